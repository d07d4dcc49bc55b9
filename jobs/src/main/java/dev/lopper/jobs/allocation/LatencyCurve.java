package dev.lopper.jobs.allocation;

import java.util.Arrays;
import java.util.Objects;

/**
 * What pruning one item (a channel group) alone saves of the dense model's latency, measured at
 * some sparsities: {@code saving(s) = 1 - latency(model with only this item pruned at s) /
 * latency(dense)}, a fraction of the dense latency that is at most 1 and may be 0 or negative (a
 * runtime that computes channels in blocks saves nothing inside a block, and a layout change can
 * make the smaller model slower).
 *
 * <p>The curve runs from (0, 0) through the measured points and is linear between them.
 *
 * @param tensor the item's name, as its {@link SensitivityCurve}'s
 * @param sparsities measured sparsities, strictly increasing, each in (0, 1]
 * @param savings the measured saving at each sparsity (finite, at most 1)
 */
public record LatencyCurve(String tensor, double[] sparsities, double[] savings) {

  public LatencyCurve {
    Objects.requireNonNull(tensor, "tensor");
    if (sparsities.length == 0 || sparsities.length != savings.length) {
      throw new IllegalArgumentException("latency curve " + tensor + ": needs one saving per sparsity and at least "
          + "one point, found " + sparsities.length + " sparsities and " + savings.length + " savings");
    }
    sparsities = sparsities.clone();
    savings = savings.clone();
    double previous = 0;
    for (int i = 0; i < sparsities.length; i++) {
      if (!(sparsities[i] > previous) || sparsities[i] > 1) {
        throw new IllegalArgumentException("latency curve " + tensor + ": sparsities must increase strictly within "
            + "(0, 1], found " + Arrays.toString(sparsities));
      }
      if (!Double.isFinite(savings[i]) || savings[i] > 1) {
        throw new IllegalArgumentException("latency curve " + tensor + ": saving at sparsity " + sparsities[i]
            + " must be finite and at most 1, found " + savings[i]);
      }
      previous = sparsities[i];
    }
  }

  /** The largest measured sparsity. */
  public double maxSparsity() {
    return sparsities[sparsities.length - 1];
  }

  /**
   * The saving at sparsity {@code s}, interpolated linearly between (0, 0) and the measured points.
   *
   * @throws IllegalArgumentException when {@code s} is negative or above {@link #maxSparsity()}
   */
  public double savingAt(double s) {
    if (!(s >= 0) || s > maxSparsity() + 1e-12) {
      throw new IllegalArgumentException("latency curve " + tensor + ": sparsity " + s + " is outside the measured "
          + "range [0, " + maxSparsity() + "]");
    }
    return PiecewiseLinear.at(sparsities, savings, s);
  }

  @Override
  public double[] sparsities() {
    return sparsities.clone();
  }

  @Override
  public double[] savings() {
    return savings.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LatencyCurve c && tensor.equals(c.tensor) && Arrays.equals(sparsities, c.sparsities)
        && Arrays.equals(savings, c.savings);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tensor, Arrays.hashCode(sparsities), Arrays.hashCode(savings));
  }

  @Override
  public String toString() {
    return "LatencyCurve[" + tensor + ", sparsities " + Arrays.toString(sparsities) + ", savings "
        + Arrays.toString(savings) + "]";
  }
}
