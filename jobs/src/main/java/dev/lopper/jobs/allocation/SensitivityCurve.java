package dev.lopper.jobs.allocation;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How much the decision metric drops when one tensor alone is pruned, measured on the sweep's grid.
 *
 * <p>The curve runs from (0, 0) through the grid points and is linear between them; it is undefined
 * above the largest swept sparsity. A drop is positive when the pruned model is worse than the dense
 * one and may be negative when pruning helped.
 *
 * @param tensor the tensor's name
 * @param parameters the tensor's number of elements
 * @param sparsities the grid, strictly increasing, each in (0, 1]
 * @param drops the measured drop at each grid point (finite)
 */
public record SensitivityCurve(String tensor, long parameters, double[] sparsities, double[] drops) {

  public SensitivityCurve {
    Objects.requireNonNull(tensor, "tensor");
    if (parameters <= 0) {
      throw new IllegalArgumentException("tensor " + tensor + ": parameters must be positive, found " + parameters);
    }
    if (sparsities.length == 0 || sparsities.length != drops.length) {
      throw new IllegalArgumentException("tensor " + tensor + ": needs one drop per sparsity and at least one "
          + "point, found " + sparsities.length + " sparsities and " + drops.length + " drops");
    }
    sparsities = sparsities.clone();
    drops = drops.clone();
    double previous = 0;
    for (int i = 0; i < sparsities.length; i++) {
      if (!(sparsities[i] > previous) || sparsities[i] > 1) {
        throw new IllegalArgumentException("tensor " + tensor + ": sparsities must increase strictly within "
            + "(0, 1], found " + Arrays.toString(sparsities));
      }
      if (!Double.isFinite(drops[i])) {
        throw new IllegalArgumentException("tensor " + tensor + ": drop at sparsity " + sparsities[i]
            + " is " + drops[i]);
      }
      previous = sparsities[i];
    }
  }

  /** The largest swept sparsity: the curve's end. */
  public double maxSparsity() {
    return sparsities[sparsities.length - 1];
  }

  /**
   * The predicted drop at sparsity {@code s}, interpolating linearly between (0, 0) and the grid.
   *
   * @throws IllegalArgumentException when {@code s} is negative or above {@link #maxSparsity()}
   */
  public double dropAt(double s) {
    if (!(s >= 0) || s > maxSparsity() + 1e-12) {
      throw new IllegalArgumentException("tensor " + tensor + ": sparsity " + s + " is outside the swept range [0, "
          + maxSparsity() + "]");
    }
    double leftS = 0;
    double leftDrop = 0;
    for (int i = 0; i < sparsities.length; i++) {
      if (s <= sparsities[i]) {
        if (s == sparsities[i]) {
          return drops[i];
        }
        double w = (s - leftS) / (sparsities[i] - leftS);
        return leftDrop + w * (drops[i] - leftDrop);
      }
      leftS = sparsities[i];
      leftDrop = drops[i];
    }
    return drops[drops.length - 1];
  }

  @Override
  public double[] sparsities() {
    return sparsities.clone();
  }

  @Override
  public double[] drops() {
    return drops.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SensitivityCurve c && tensor.equals(c.tensor) && parameters == c.parameters
        && Arrays.equals(sparsities, c.sparsities) && Arrays.equals(drops, c.drops);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tensor, parameters, Arrays.hashCode(sparsities), Arrays.hashCode(drops));
  }

  @Override
  public String toString() {
    return "SensitivityCurve[" + tensor + ", " + parameters + " parameters, sparsities "
        + Arrays.toString(sparsities) + ", drops " + Arrays.toString(drops) + "]";
  }

  /** Checks that there is at least one curve and that tensor names are distinct. */
  static void checkCurves(List<SensitivityCurve> curves) {
    if (curves.isEmpty()) {
      throw new IllegalArgumentException("no sensitivity curves to allocate from");
    }
    Set<String> seen = new HashSet<>();
    for (SensitivityCurve curve : curves) {
      if (!seen.add(curve.tensor())) {
        throw new IllegalArgumentException("two sensitivity curves for tensor " + curve.tensor());
      }
    }
  }
}
