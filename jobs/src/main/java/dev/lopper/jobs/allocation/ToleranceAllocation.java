package dev.lopper.jobs.allocation;

import java.util.ArrayList;
import java.util.List;

/**
 * Policy {@code tolerance}: per tensor, the largest sparsity whose predicted drop is within the
 * tolerance.
 *
 * <p>The curve is linear between (0, 0) and the grid points, so within a segment whose end lies
 * above the tolerance the answer is where the segment crosses it. "Largest" is meant literally: on
 * a curve that rises above the tolerance and comes back below it (noise), the later sparsity is
 * taken, since its measured drop is within the tolerance. Sparsities are capped by {@link
 * AllocationSettings#maxSparsity()} and the tensor's largest swept sparsity; the overall sparsity is
 * whatever results.
 */
public final class ToleranceAllocation implements AllocationPolicy {

  @Override
  public String name() {
    return "tolerance";
  }

  @Override
  public Allocation allocate(List<SensitivityCurve> curves, AllocationSettings settings) {
    SensitivityCurve.checkCurves(curves);
    List<TensorAllocation> tensors = new ArrayList<>();
    for (SensitivityCurve curve : curves) {
      tensors.add(TensorAllocation.of(curve, largestWithin(curve, settings.tolerance(),
          Math.min(settings.maxSparsity(), curve.maxSparsity()))));
    }
    return new Allocation(name(), tensors, Double.NaN);
  }

  /** The largest s in [0, cap] with {@code curve.dropAt(s) <= tolerance}; 0 always qualifies. */
  static double largestWithin(SensitivityCurve curve, double tolerance, double cap) {
    double[] s = curve.sparsities();
    double[] d = curve.drops();
    if (curve.gridOnly()) {
      for (int i = s.length - 1; i >= 0; i--) {
        if (s[i] <= cap + 1e-12 && d[i] <= tolerance) {
          return s[i];
        }
      }
      return 0;
    }
    // Segments from the right: [left, right] clipped at cap.
    for (int i = s.length - 1; i >= -1; i--) {
      double left = i < 0 ? 0 : s[i];
      if (left > cap) {
        continue;
      }
      double right = i + 1 < s.length ? Math.min(s[i + 1], cap) : left;
      double leftDrop = i < 0 ? 0 : d[i];
      double rightDrop = curve.dropAt(right);
      if (rightDrop <= tolerance) {
        return right;
      }
      if (leftDrop <= tolerance) {
        return left + (tolerance - leftDrop) / (rightDrop - leftDrop) * (right - left);
      }
    }
    return 0;
  }
}
