package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;

/**
 * The {@code target} policy with a speed-up constraint ({@code allocation.min-speedup}): reach the
 * cost target (parameters or FLOPs, calibrated exactly by {@link TargetCalibration}) with the
 * smallest summed predicted drop among allocations whose predicted latency is at most the dense
 * latency divided by the minimum speed-up.
 *
 * <p>Predicted latency, as a fraction of the dense model's: {@code 1 - sum_g saving_g(s_g)}, each
 * group's saving measured with that group alone pruned ({@link LatencyCurve}, linear between
 * measured points); predicted speed-up is its inverse.
 *
 * <p>Method: a Lagrangian relaxation of the latency constraint that reuses the policy unchanged.
 * The policy is handed curves whose drops are penalised, {@code drop_g(s) - mu * saving_g(s)} at the
 * union of the sweep's and the latency measurement's points; {@code mu = 0} is the plain policy, and
 * as {@code mu} grows the allocation trades drop for latency. First the plain allocation is tried;
 * then the allocation that only counts latency ({@code -saving_g(s)} alone: the largest predicted
 * speed-up the cost target allows, as far as the policy finds it), which when still too slow fails
 * the run saying how fast it can be; otherwise {@code mu} is grown geometrically from a scale set by
 * the curves (largest drop over largest saving) until the constraint holds, then bisected to the
 * smallest {@code mu} that meets it. The allocation returned carries the unpenalised predicted
 * drops.
 *
 * <pre>{@code
 * LatencyConstrainedAllocation.Result r = LatencyConstrainedAllocation.reach(policy, curves, latency,
 *     settings, 1.5, removedFraction);
 * r.calibrated().allocation();   // per group, in whole channels
 * r.predictedSpeedup();          // >= 1.5
 * }</pre>
 */
public final class LatencyConstrainedAllocation {

  /** Bisection steps on the multiplier once it is bracketed. */
  private static final int BISECTIONS = 30;
  /** The multiplier's range, in units of the curves' scale: from 1e-3 up to about 1e12. */
  private static final double FIRST = 1e-3;
  private static final int GROWTHS = 25;

  /**
   * The allocation chosen.
   *
   * @param calibrated the calibrated allocation (predicted drops unpenalised), its policy target and
   *     the fraction of the model's cost it removes
   * @param multiplier the latency multiplier {@code mu} that chose it (0: the plain policy already met
   *     the constraint; infinite: only latency was counted)
   * @param predictedSpeedup the allocation's predicted speed-up, at least the minimum asked
   * @param unconstrainedSpeedup the plain policy's predicted speed-up (mu = 0), for comparison
   */
  public record Result(TargetCalibration.Result calibrated, double multiplier, double predictedSpeedup,
      double unconstrainedSpeedup) {}

  private LatencyConstrainedAllocation() {}

  /**
   * The calibrated allocation with the smallest multiplier whose predicted speed-up is at least
   * {@code minSpeedup}.
   *
   * @param latency per curve name, what pruning it saves of the dense latency; a curve without one
   *     saves nothing
   * @param removed the fraction of the model's cost removed by per-curve sparsities, as for {@link
   *     TargetCalibration#reach}
   * @throws InvalidInputException when the cost target cannot be reached, or when no allocation the
   *     policy finds is predicted to be {@code minSpeedup} times faster (naming the largest predicted
   *     speed-up)
   */
  public static Result reach(AllocationPolicy policy, List<SensitivityCurve> curves, Map<String, LatencyCurve> latency,
      AllocationSettings settings, double minSpeedup, ToDoubleFunction<Map<String, Double>> removed) {
    if (!(minSpeedup > 1) || !Double.isFinite(minSpeedup)) {
      throw new IllegalArgumentException("minSpeedup must be a finite number above 1, found " + minSpeedup);
    }
    for (SensitivityCurve c : curves) {
      LatencyCurve l = latency.get(c.tensor());
      if (l != null && l.maxSparsity() < c.maxSparsity() - 1e-12) {
        throw new IllegalArgumentException("latency curve " + c.tensor() + " ends at " + l.maxSparsity()
            + ", below its sensitivity curve's " + c.maxSparsity());
      }
    }
    TargetCalibration.Result plain = TargetCalibration.reach(policy, curves, settings, removed);
    double plainSpeedup = predictedSpeedup(plain.allocation().sparsities(), latency);
    if (plainSpeedup >= minSpeedup) {
      return new Result(plain, 0, plainSpeedup, plainSpeedup);
    }
    Step fastest = step(policy, curves, latency, settings, removed, Double.POSITIVE_INFINITY);
    if (fastest.speedup() < minSpeedup) {
      throw new InvalidInputException("allocation.min-speedup: a predicted speed-up of " + minSpeedup + " cannot be "
          + "reached at allocation.target " + settings.target() + ": the largest predicted speed-up is "
          + String.format("%.3f", fastest.speedup()) + " (" + fastest.result().allocation().sparsities()
          + "), the plain target policy's " + String.format("%.3f", plainSpeedup) + "; lower allocation.min-speedup, "
          + "raise allocation.target or sweep higher sparsities");
    }
    double scale = scale(curves, latency);
    double lo = 0;
    double hi = scale * FIRST;
    Step feasible = null;
    for (int g = 0; g < GROWTHS; g++) {
      Step s = step(policy, curves, latency, settings, removed, hi);
      if (s.speedup() >= minSpeedup) {
        feasible = s;
        break;
      }
      lo = hi;
      hi *= 4;
    }
    if (feasible == null) {
      return new Result(fastest.result(), Double.POSITIVE_INFINITY, fastest.speedup(), plainSpeedup);
    }
    for (int b = 0; b < BISECTIONS; b++) {
      double mid = (lo + hi) / 2;
      Step s = step(policy, curves, latency, settings, removed, mid);
      if (s.speedup() >= minSpeedup) {
        hi = mid;
        feasible = s;
      } else {
        lo = mid;
      }
    }
    return new Result(feasible.result(), feasible.multiplier(), feasible.speedup(), plainSpeedup);
  }

  /**
   * The predicted speed-up of per-curve sparsities: {@code 1 / (1 - sum saving(s))}; items without
   * a latency curve save nothing. A predicted latency at or below 0 (savings that add up to the
   * whole model, which linear prediction can produce) is infinite speed-up.
   */
  public static double predictedSpeedup(Map<String, Double> sparsities, Map<String, LatencyCurve> latency) {
    double saved = 0;
    for (Map.Entry<String, Double> e : sparsities.entrySet()) {
      LatencyCurve l = latency.get(e.getKey());
      if (l != null && e.getValue() > 0) {
        saved += l.savingAt(Math.min(e.getValue(), l.maxSparsity()));
      }
    }
    double left = 1 - saved;
    return left <= 0 ? Double.POSITIVE_INFINITY : 1 / left;
  }

  /**
   * The curves handed to the policy at multiplier {@code mu}: drops {@code drop(s) - mu * saving(s)}
   * (only {@code -saving(s)} for an infinite {@code mu}) at the union of both curves' points up to
   * the sensitivity curve's end.
   */
  static List<SensitivityCurve> penalised(List<SensitivityCurve> curves, Map<String, LatencyCurve> latency,
      double mu) {
    List<SensitivityCurve> out = new ArrayList<>(curves.size());
    for (SensitivityCurve c : curves) {
      LatencyCurve l = latency.get(c.tensor());
      if (l == null && Double.isFinite(mu)) {
        out.add(c);
        continue;
      }
      TreeSet<Double> points = new TreeSet<>();
      for (double s : c.sparsities()) {
        points.add(s);
      }
      if (l != null) {
        for (double s : l.sparsities()) {
          if (s < c.maxSparsity() - 1e-12) {
            points.add(s);
          }
        }
      }
      double[] s = points.stream().mapToDouble(Double::doubleValue).toArray();
      double[] f = new double[s.length];
      for (int i = 0; i < s.length; i++) {
        double saving = l == null ? 0 : l.savingAt(s[i]);
        f[i] = Double.isFinite(mu) ? c.dropAt(s[i]) - mu * saving : -saving;
      }
      out.add(new SensitivityCurve(c.tensor(), c.node(), c.parameters(), s, f, c.cost(), c.units()));
    }
    return out;
  }

  /** One allocation at multiplier {@code mu}, with the unpenalised drops and its predicted speed-up. */
  private record Step(TargetCalibration.Result result, double multiplier, double speedup) {}

  private static Step step(AllocationPolicy policy, List<SensitivityCurve> curves, Map<String, LatencyCurve> latency,
      AllocationSettings settings, ToDoubleFunction<Map<String, Double>> removed, double mu) {
    TargetCalibration.Result r = TargetCalibration.reach(policy, penalised(curves, latency, mu), settings, removed);
    List<TensorAllocation> tensors = new ArrayList<>(curves.size());
    for (int i = 0; i < curves.size(); i++) {
      tensors.add(TensorAllocation.of(curves.get(i), r.allocation().tensors().get(i).sparsity()));
    }
    Allocation unpenalised = new Allocation(r.allocation().policy(), tensors, Double.NaN);
    double speedup = predictedSpeedup(unpenalised.sparsities(), latency);
    return new Step(new TargetCalibration.Result(unpenalised, r.policyTarget(), r.removed()), mu, speedup);
  }

  /** Largest absolute drop over largest absolute saving: the multiplier at which both weigh alike. */
  private static double scale(List<SensitivityCurve> curves, Map<String, LatencyCurve> latency) {
    double drop = 0;
    for (SensitivityCurve c : curves) {
      for (double d : c.drops()) {
        drop = Math.max(drop, Math.abs(d));
      }
    }
    double saving = 0;
    for (LatencyCurve l : latency.values()) {
      for (double s : l.savings()) {
        saving = Math.max(saving, Math.abs(s));
      }
    }
    if (drop == 0) {
      drop = 1;
    }
    return saving == 0 ? drop : drop / saving;
  }
}
