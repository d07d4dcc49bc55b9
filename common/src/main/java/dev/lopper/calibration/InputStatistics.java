package dev.lopper.calibration;

import java.io.Serial;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * Sums over calibration samples of the activation entering one consumer (a MatMul's or Gemm's
 * input rows, a Conv's im2col patches), one per input channel j of the weight as PyTorch lays it
 * out ({@code [out, in]}, a Conv's {@code [out, in·kh·kw]}): the count n of samples (tokens, rows or
 * patches), Σx<sub>j</sub>, Σx<sub>j</sub>² and optionally the Gram matrix XᵀX, all in float64.
 *
 * <p>Scale factors (Wanda's 1/n, SparseGPT's 2/n) cancel in every ranking and in SparseGPT's
 * update, so the raw sums are kept and merged. Sums of float64 values depend on their order:
 * {@link #plus} adds this then the other, element by element, and callers fix the order (see
 * {@link TreeSum}). The arrays are held, not copied: treat them as read-only.
 *
 * <p>Memory: {@code dim} doubles for each of the two channel sums, {@code dim²} for the Gram matrix
 * (4.5 MiB at d = 768, 72 MiB at d = 3072).
 */
public final class InputStatistics implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final int dim;
  private final long count;
  private final double[] sums;
  private final double[] sumSquares;
  private final double[] gram;

  /**
   * @param dim number of input channels
   * @param count number of samples summed
   * @param sums Σx per channel, {@code dim} values
   * @param sumSquares Σx² per channel, {@code dim} values
   * @param gram XᵀX row-major, {@code dim × dim} values, or null when not gathered
   */
  public InputStatistics(int dim, long count, double[] sums, double[] sumSquares, double[] gram) {
    if (dim < 0 || count < 0) {
      throw new IllegalArgumentException("dim " + dim + " and count " + count + " must be >= 0");
    }
    Objects.requireNonNull(sums, "sums");
    Objects.requireNonNull(sumSquares, "sumSquares");
    if (sums.length != dim || sumSquares.length != dim) {
      throw new IllegalArgumentException("channel sums of " + sums.length + " and " + sumSquares.length
          + " values for " + dim + " channels");
    }
    if (gram != null && gram.length != (long) dim * dim) {
      throw new IllegalArgumentException("Gram matrix of " + gram.length + " values for " + dim + " channels");
    }
    this.dim = dim;
    this.count = count;
    this.sums = sums;
    this.sumSquares = sumSquares;
    this.gram = gram;
  }

  /** Statistics of no samples: zeros, with a zero Gram matrix when {@code withGram}. */
  public static InputStatistics empty(int dim, boolean withGram) {
    return new InputStatistics(dim, 0, new double[dim], new double[dim],
        withGram ? new double[Math.multiplyExact(dim, dim)] : null);
  }

  /** Number of input channels. */
  public int dim() {
    return dim;
  }

  /** Number of samples summed (tokens, rows or patches). */
  public long count() {
    return count;
  }

  /** Σx per channel (held, not copied). */
  public double[] sums() {
    return sums;
  }

  /** Σx² per channel (held, not copied). */
  public double[] sumSquares() {
    return sumSquares;
  }

  /** Whether the Gram matrix was gathered. */
  public boolean hasGram() {
    return gram != null;
  }

  /** XᵀX row-major (held, not copied), or null when not gathered. */
  public double[] gram() {
    return gram;
  }

  /** The same sums without the Gram matrix. */
  public InputStatistics withoutGram() {
    return gram == null ? this : new InputStatistics(dim, count, sums, sumSquares, null);
  }

  /**
   * This plus {@code other}, element by element ({@code this[i] + other[i]}, in that order); the
   * Gram matrix only when both have one.
   */
  public InputStatistics plus(InputStatistics other) {
    if (other.dim != dim) {
      throw new IllegalArgumentException("adding statistics of " + other.dim + " channels to " + dim);
    }
    double[] g = null;
    if (gram != null && other.gram != null) {
      g = new double[gram.length];
      for (int i = 0; i < g.length; i++) {
        g[i] = gram[i] + other.gram[i];
      }
    }
    return new InputStatistics(dim, count + other.count, add(sums, other.sums), add(sumSquares, other.sumSquares), g);
  }

  private static double[] add(double[] a, double[] b) {
    double[] out = new double[a.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = a[i] + b[i];
    }
    return out;
  }

  /** Bitwise equality of every sum. */
  @Override
  public boolean equals(Object o) {
    return o instanceof InputStatistics s && dim == s.dim && count == s.count && Arrays.equals(sums, s.sums)
        && Arrays.equals(sumSquares, s.sumSquares) && Arrays.equals(gram, s.gram);
  }

  @Override
  public int hashCode() {
    return Objects.hash(dim, count, Arrays.hashCode(sums), Arrays.hashCode(sumSquares), Arrays.hashCode(gram));
  }

  @Override
  public String toString() {
    return "InputStatistics[dim=" + dim + ", count=" + count + (gram != null ? ", with Gram" : "") + "]";
  }
}
