package dev.lopper.jobs.sweep;

import dev.lopper.io.Table;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Tally;
import dev.lopper.structure.ChannelCost;
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

  /** The metric columns, in order, as named in the table. */
  public static final String[] METRIC_COLUMNS =
      {"accuracy", "top5", "loss", "precision_macro", "recall_macro", "f1_macro", "kl"};

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
    SweepSpec spec = result.spec();
    boolean groups = spec.items().stream().anyMatch(SweepItem::isGroup);
    if (groups && cost == null) {
      throw new IllegalArgumentException("a sweep of channel groups needs their ChannelCost for its table");
    }
    Table.Builder table = Table.builder()
        .column("tensor", Table.Type.STRING)
        .column("op", Table.Type.STRING)
        .column("parameters", Table.Type.LONG)
        .column("criterion", Table.Type.STRING)
        .column("sparsity", Table.Type.DOUBLE)
        .column("pruned", Table.Type.LONG);
    if (groups) {
      table.column("channels", Table.Type.LONG).column("pruned_channels", Table.Type.LONG);
    }
    for (String m : METRIC_COLUMNS) {
      table.column(m, Table.Type.DOUBLE);
    }
    for (String m : METRIC_COLUMNS) {
      table.column("delta_" + m, Table.Type.DOUBLE);
    }
    table.column("samples", Table.Type.LONG);

    double[] base = values(result.baseline().metrics());
    table.row(row(BASELINE, "", 0L, spec.criterion(), 0.0, 0L, groups ? new long[] {0, 0} : null, base, base,
        result.baseline()));
    double[] grid = spec.sparsities();
    for (int i = 0; i < spec.items().size(); i++) {
      SweepItem item = spec.items().get(i);
      for (int s = 0; s < grid.length; s++) {
        Tally tally = result.variant(i, s);
        long pruned;
        long[] channels = null;
        if (item.isGroup()) {
          long removed = prunedChannels(item.channels(), grid[s]);
          pruned = cost.dense().parameters() - cost.parameters(Map.of(item.group(), item.channels() - removed));
          channels = new long[] {item.channels(), removed};
        } else {
          pruned = (long) Math.rint(grid[s] * item.parameters());
          channels = groups ? new long[] {0, 0} : null;
        }
        table.row(row(item.name(), item.op(), item.parameters(), spec.criterion(), grid[s], pruned, channels,
            values(tally.metrics()), base, tally));
      }
    }
    return table.build();
  }

  /**
   * The channels a structured criterion removes from a group of {@code channels} at {@code sparsity}:
   * {@code round(sparsity × channels)}, half to even, as {@code ChannelCriterion} and PyTorch count.
   */
  public static long prunedChannels(long channels, double sparsity) {
    return (long) Math.rint(sparsity * (double) channels);
  }

  private static Object[] row(String tensor, String op, long parameters, String criterion, double sparsity,
      long pruned, long[] channels, double[] values, double[] base, Tally tally) {
    int extra = channels == null ? 0 : 2;
    Object[] row = new Object[6 + extra + 2 * values.length + 1];
    row[0] = tensor;
    row[1] = op;
    row[2] = parameters;
    row[3] = criterion;
    row[4] = sparsity;
    row[5] = pruned;
    if (channels != null) {
      row[6] = channels[0];
      row[7] = channels[1];
    }
    for (int i = 0; i < values.length; i++) {
      row[6 + extra + i] = values[i];
      row[6 + extra + values.length + i] = values[i] - base[i];
    }
    row[row.length - 1] = tally.samples();
    return row;
  }
  /** The metric values in {@link #METRIC_COLUMNS} order. */
  public static double[] values(Metrics m) {
    return new double[] {m.accuracy(), m.top5(), m.loss(), m.precisionMacro(), m.recallMacro(), m.f1Macro(), m.kl()};
  }
}
