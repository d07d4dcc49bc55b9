package dev.lopper.jobs.sweep;

import dev.lopper.metrics.Tally;
import java.io.Serializable;

/**
 * A task's partial result for one variant on one data slice ({@link SweepPlan}): which variant (the
 * dense baseline is item -1) and its tally, which merges exactly with the other slices' tallies.
 *
 * @param item index into the sweep's items (tensors or channel groups), or -1 for the dense baseline
 * @param sparsity index into the sweep's sparsity grid (0 for the baseline)
 * @param slice the data slice
 * @param tally the additive partial result
 */
public record VariantTally(int item, int sparsity, int slice, Tally tally) implements Serializable {
  /** Index used for the dense baseline. */
  public static final int BASELINE = -1;
}
