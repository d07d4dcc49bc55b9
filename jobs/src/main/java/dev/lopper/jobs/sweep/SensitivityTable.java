package dev.lopper.jobs.sweep;

import dev.lopper.io.Table;
import dev.lopper.metrics.MetricValues;
import dev.lopper.metrics.Tally;
import dev.lopper.structure.ChannelCost;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The sensitivity table people and machines read: one row for the dense baseline (tensor
 * {@value #BASELINE}, sparsity 0) and one per (swept item, sparsity), with every metric, its change
 * from the baseline ({@code delta_<metric>} = value − baseline) and the number of samples.
 *
 * <p>An item is a tensor, or for structured criteria a channel group: then {@code tensor} is the
 * group's name (its producing tensors joined by {@code +}), {@code op} is {@code group}, {@code
 * parameters} counts the elements of all its member tensors, {@code pruned} the parameters the
 * model loses when the group alone is pruned at that sparsity, and two more columns follow {@code
 * pruned}: {@code channels} (the group's) and {@code pruned_channels} (how many that sparsity
 * removes).
 */
public final class SensitivityTable {
  /** The tensor name of the baseline row. */
  public static final String BASELINE = "(dense)";

  private SensitivityTable() {}

  /** The table of a merged sweep of single tensors. */
  public static Table of(SweepResult result) {
    return of(result, null);
  }

  /**
   * The table of a merged sweep; {@code cost} counts what a channel group's pruning removes (needed
   * when the sweep's items are channel groups, ignored otherwise).
   */
  public static Table of(SweepResult result, ChannelCost cost) {
    return SensitivityRow.SCHEMA.table(rows(result, cost));
  }

  /**
   * The rows of a merged sweep, the baseline first, then per item its sparsities in grid order;
   * {@code cost} as for {@link #of(SweepResult, ChannelCost)}. In a sweep of channel groups every
   * row has {@code channels} and {@code pruned_channels} (0 for the baseline and for single
   * tensors), in other sweeps none does.
   */
  public static List<SensitivityRow> rows(SweepResult result, ChannelCost cost) {
    SweepSpec spec = result.spec();
    boolean groups = spec.items().stream().anyMatch(SweepItem::isGroup);
    if (groups && cost == null) {
      throw new IllegalArgumentException("a sweep of channel groups needs their ChannelCost for its table");
    }
    Long none = groups ? 0L : null;
    MetricValues base = MetricValues.of(result.baseline().metrics());
    List<SensitivityRow> rows = new ArrayList<>();
    rows.add(new SensitivityRow(BASELINE, null, "", 0L, spec.criterion(), 0.0, 0L, none, none, base, base.minus(base),
        result.baseline().samples()));
    double[] grid = spec.sparsities();
    for (int i = 0; i < spec.items().size(); i++) {
      SweepItem item = spec.items().get(i);
      for (int s = 0; s < grid.length; s++) {
        Tally tally = result.variant(i, s);
        long pruned;
        Long channels = none;
        Long prunedChannels = none;
        if (item.isGroup()) {
          long removed = prunedChannels(item.channels(), grid[s]);
          pruned = cost.dense().parameters() - cost.parameters(Map.of(item.group(), item.channels() - removed));
          channels = item.channels();
          prunedChannels = removed;
        } else {
          pruned = (long) Math.rint(grid[s] * item.parameters());
        }
        MetricValues values = MetricValues.of(tally.metrics());
        rows.add(new SensitivityRow(item.name(), item.node(), item.op(), item.parameters(), spec.criterion(), grid[s],
            pruned, channels, prunedChannels, values, values.minus(base), tally.samples()));
      }
    }
    return rows;
  }

  /**
   * The channels a structured criterion removes from a group of {@code channels} at {@code sparsity}:
   * {@code round(sparsity × channels)}, half to even, as {@code ChannelCriterion} and PyTorch count.
   */
  public static long prunedChannels(long channels, double sparsity) {
    return (long) Math.rint(sparsity * (double) channels);
  }
}
