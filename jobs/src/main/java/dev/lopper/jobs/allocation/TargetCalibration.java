package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Reaches a target counted exactly in the model's cost when the curves' costs only approximate it:
 * how channel groups are allocated.
 *
 * <p>A group's curve counts what the group alone saves ({@link SensitivityCurve#cost()}), which is
 * exact for one group but not for several: a Conv weight whose filters belong to one group and
 * whose input channels belong to the previous one keeps {@code (1 - a)(1 - b)} of its elements when
 * they lose fractions a and b, so it loses less than {@code a + b}; and a policy counts its target
 * against the sum of the curves' costs, while a run's target is a fraction of the whole model's
 * parameters or multiply-accumulates. So the policy's own target T' is calibrated: the smallest T'
 * (found by bisection) whose allocation, in whole channels, removes at least T of the model's cost
 * as the caller counts it exactly ({@code dev.lopper.structure.ChannelCost}).
 *
 * <pre>{@code
 * TargetCalibration.Result r = TargetCalibration.reach(policy, curves, settings, removedFraction);
 * r.allocation().sparsities();   // per group, multiples of 1/C
 * }</pre>
 */
public final class TargetCalibration {

  /** Bisection steps: the policy target is found to within 2^-40. */
  private static final int STEPS = 40;

  /**
   * The allocation that reaches the target.
   *
   * @param allocation the policy's allocation at {@code policyTarget}, in whole units
   * @param policyTarget the target the policy was given
   * @param removed the fraction of the model's cost the allocation removes, at least the target
   */
  public record Result(Allocation allocation, double policyTarget, double removed) {}

  private TargetCalibration() {}

  /**
   * The smallest policy target whose allocation removes at least {@code settings.target()} of the
   * model's cost.
   *
   * @param removed the fraction of the model's cost removed by per-curve sparsities (curve name to
   *     sparsity, every sparsity a multiple of 1/units for curves with units)
   * @throws InvalidInputException when even the largest allowed sparsities do not reach the target
   */
  public static Result reach(AllocationPolicy policy, List<SensitivityCurve> curves, AllocationSettings settings,
      ToDoubleFunction<Map<String, Double>> removed) {
    double target = settings.target();
    double lo = 0;
    double hi = 1;
    Result best = null;
    for (int step = 0; step < STEPS; step++) {
      double mid = (lo + hi) / 2;
      Allocation allocation;
      try {
        allocation = inUnits(policy.allocate(curves, new AllocationSettings(mid, settings.tolerance(),
            settings.maxSparsity())), curves);
      } catch (InvalidInputException unreachable) {
        hi = mid;
        continue;
      }
      double r = removed.applyAsDouble(allocation.sparsities());
      if (r >= target - 1e-12) {
        best = new Result(allocation, mid, r);
        hi = mid;
      } else {
        lo = mid;
      }
    }
    if (best == null) {
      Map<String, Double> caps = new LinkedHashMap<>();
      for (SensitivityCurve c : curves) {
        caps.put(c.tensor(), floorToUnits(Math.min(settings.maxSparsity(), c.maxSparsity()), c.units()));
      }
      double reachable = removed.applyAsDouble(caps);
      throw new InvalidInputException(String.format(java.util.Locale.ROOT, "allocation.target: %s of the model cannot "
          + "be removed by policy %s: the prunable items remove at most %.4f of it (every swept item at its largest "
          + "allowed sparsity: allocation.max-sparsity %s and its largest swept sparsity; what no item holds, such "
          + "as embeddings, stays); lower the target to at most %.4f, sweep higher sparsities or include more "
          + "tensors", target, policy.name(), reachable, settings.maxSparsity(), reachable));
    }
    return best;
  }

  /**
   * {@code allocation} with each sparsity rounded down to a multiple of 1/units for curves with
   * units (an item never loses more than allocated), and its predicted drops taken there.
   */
  public static Allocation inUnits(Allocation allocation, List<SensitivityCurve> curves) {
    List<TensorAllocation> out = new ArrayList<>(curves.size());
    for (int i = 0; i < curves.size(); i++) {
      SensitivityCurve curve = curves.get(i);
      TensorAllocation t = allocation.tensors().get(i);
      if (!t.tensor().equals(curve.tensor())) {
        throw new IllegalArgumentException("allocation entry " + t.tensor() + " is not curve " + curve.tensor());
      }
      double s = floorToUnits(t.sparsity(), curve.units());
      out.add(s == t.sparsity() ? t : TensorAllocation.of(curve, s));
    }
    return new Allocation(allocation.policy(), out, allocation.lowerBound());
  }

  /** {@code sparsity} rounded down to a multiple of 1/units (unchanged for units 0). */
  static double floorToUnits(double sparsity, long units) {
    if (units <= 0) {
      return sparsity;
    }
    return Math.floor(sparsity * units + 1e-9) / (double) units;
  }
}
