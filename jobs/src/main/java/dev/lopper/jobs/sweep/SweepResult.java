package dev.lopper.jobs.sweep;

import dev.lopper.metrics.Tally;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * The merged tallies of a sweep: the dense baseline and one tally per (item, sparsity), an item
 * being a tensor or a channel group ({@link SweepItem}). Merging
 * is exact, so the result is the same for any number of partitions or slices, any task order and retries.
 */
public final class SweepResult {
  private final SweepSpec spec;
  private final Tally baseline;
  private final Tally[][] variants;
  private final Units units;

  /**
   * How the sweep's work went: its units (Spark tasks) and how many of them were reused from a
   * checkpoint of an interrupted run rather than computed.
   *
   * @param total the units of the sweep's plan
   * @param reused those whose tallies came from the checkpoint
   */
  public record Units(int total, int reused) {}

  private SweepResult(SweepSpec spec, Tally baseline, Tally[][] variants, Units units) {
    this.spec = spec;
    this.baseline = baseline;
    this.variants = variants;
    this.units = units;
  }

  /** Merges the tasks' tallies, as {@link #merge(SweepSpec, Collection, int)}, and records how the units went. */
  public static SweepResult merge(SweepSpec spec, Collection<VariantTally> tallies, int slices, Units units) {
    SweepResult merged = merge(spec, tallies, slices);
    return new SweepResult(spec, merged.baseline, merged.variants, units);
  }

  /** Merges the tasks' tallies; every variant must have been evaluated on each of the {@code slices} data slices. */
  public static SweepResult merge(SweepSpec spec, Collection<VariantTally> tallies, int slices) {
    int grid = spec.sparsities().length;
    Map<Integer, Tally> merged = new TreeMap<>();
    Map<Integer, Integer> counts = new TreeMap<>();
    for (VariantTally t : tallies) {
      int key = (t.item() + 1) * grid + t.sparsity();
      merged.merge(key, t.tally(), Tally::merge);
      counts.merge(key, 1, Integer::sum);
    }
    Tally baseline = merged.get(0);
    Tally[][] variants = new Tally[spec.items().size()][grid];
    for (int t = 0; t < variants.length; t++) {
      for (int s = 0; s < grid; s++) {
        int key = (t + 1) * grid + s;
        variants[t][s] = merged.get(key);
        if (variants[t][s] == null || counts.get(key) != slices) {
          throw new IllegalStateException("variant " + spec.items().get(t).name() + " at sparsity "
              + spec.sparsities()[s] + " has results from " + counts.getOrDefault(key, 0) + " of "
              + slices + " data slices");
        }
      }
    }
    if (baseline == null || counts.get(0) != slices) {
      throw new IllegalStateException("the dense baseline has results from " + counts.getOrDefault(0, 0)
          + " of " + slices + " data slices");
    }
    return new SweepResult(spec, baseline, variants, null);
  }

  /** The sweep's units and how many were reused from a checkpoint, or null when not recorded. */
  public Units units() {
    return units;
  }

  /** What was swept. */
  public SweepSpec spec() {
    return spec;
  }

  /** The dense model's tally. */
  public Tally baseline() {
    return baseline;
  }

  /** The tally of item {@code item} (index into {@link SweepSpec#items()}) pruned at grid point {@code sparsity}. */
  public Tally variant(int item, int sparsity) {
    return variants[item][sparsity];
  }
}
