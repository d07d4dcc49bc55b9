package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code allocation.min-speedup} without a cost target: remove the groups' channels with the least
 * measured loss per unit of time saved until the predicted speed-up is reached.
 *
 * <p>Greedy on the measured points: every group starts dense; at each step, among all moves of one
 * group from its current point to a later point of its sensitivity curve (at most {@code
 * maxSparsity}) that saves more of the dense latency ({@link LatencyCurve#savingAt}), the move with
 * the smallest added drop per added saving is taken (a move that lowers the drop goes first; ties go
 * to the larger saving). A move may skip points, so a point that is slower than the one before it
 * (a layout that does not fit the runtime's channel blocks) is jumped over rather than blocking the
 * group. It stops as soon as the predicted speed-up ({@link
 * LatencyConstrainedAllocation#predictedSpeedup}) is at least the minimum.
 *
 * <pre>{@code
 * Allocation a = SpeedupAllocation.allocate(curves, latency, 1.5, 0.9);
 * a.sparsities();   // per group, at its curve's points
 * }</pre>
 */
public final class SpeedupAllocation {

  /** The policy name an allocation made here carries. */
  public static final String NAME = "min-speedup";

  private SpeedupAllocation() {}

  /**
   * The allocation, one entry per curve in order.
   *
   * @param latency per curve name, the saving of pruning that group alone; a curve without one saves
   *     nothing and stays dense
   * @param maxSparsity the cap per group ({@code allocation.max-sparsity}, resolved)
   * @throws InvalidInputException when even every saving move does not predict {@code minSpeedup},
   *     naming the largest predicted speed-up
   */
  public static Allocation allocate(List<SensitivityCurve> curves, Map<String, LatencyCurve> latency,
      double minSpeedup, double maxSparsity) {
    if (!(minSpeedup > 1) || !Double.isFinite(minSpeedup)) {
      throw new IllegalArgumentException("minSpeedup must be a finite number above 1, found " + minSpeedup);
    }
    int n = curves.size();
    int[] at = new int[n]; // index into the curve's points + 1; 0 = dense
    Map<String, Double> sparsities = new LinkedHashMap<>();
    curves.forEach(c -> sparsities.put(c.tensor(), 0.0));
    while (LatencyConstrainedAllocation.predictedSpeedup(sparsities, latency) < minSpeedup) {
      int bestGroup = -1;
      int bestPoint = -1;
      double bestRatio = Double.POSITIVE_INFINITY;
      double bestGain = 0;
      for (int g = 0; g < n; g++) {
        SensitivityCurve c = curves.get(g);
        LatencyCurve l = latency.get(c.tensor());
        if (l == null) {
          continue;
        }
        double s0 = at[g] == 0 ? 0 : c.sparsities()[at[g] - 1];
        double drop0 = at[g] == 0 ? 0 : c.drops()[at[g] - 1];
        double saving0 = s0 == 0 ? 0 : l.savingAt(Math.min(s0, l.maxSparsity()));
        for (int p = at[g]; p < c.sparsities().length; p++) {
          double s = c.sparsities()[p];
          if (s > maxSparsity + 1e-12) {
            break;
          }
          double gain = l.savingAt(Math.min(s, l.maxSparsity())) - saving0;
          if (!(gain > 0)) {
            continue;
          }
          double ratio = (c.drops()[p] - drop0) / gain;
          if (ratio < bestRatio || (ratio == bestRatio && gain > bestGain)) {
            bestRatio = ratio;
            bestGain = gain;
            bestGroup = g;
            bestPoint = p;
          }
        }
      }
      if (bestGroup < 0) {
        throw new InvalidInputException(String.format(Locale.ROOT, "allocation.min-speedup: a predicted speed-up "
            + "of %s cannot be reached without a cost target: every group at its fastest measured point "
            + "(allocation.max-sparsity %s) predicts %.3fx; ask for less or sweep higher sparsities", minSpeedup,
            maxSparsity, LatencyConstrainedAllocation.predictedSpeedup(sparsities, latency)));
      }
      at[bestGroup] = bestPoint + 1;
      sparsities.put(curves.get(bestGroup).tensor(), curves.get(bestGroup).sparsities()[bestPoint]);
    }
    List<TensorAllocation> tensors = new ArrayList<>(n);
    for (SensitivityCurve c : curves) {
      tensors.add(TensorAllocation.of(c, sparsities.get(c.tensor())));
    }
    return new Allocation(NAME, tensors, Double.NaN);
  }
}
