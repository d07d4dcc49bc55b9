package dev.lopper.metrics;

import java.io.Serial;
import java.io.Serializable;
import java.util.Objects;

/**
 * How close a variant's output is to the dense model's on the same rows, as exact sums: per row,
 * the cosine similarity of the two outputs mean-pooled over the row's token positions (attention
 * mask 1); per token position, the cosine similarity of the two vectors; and the squared error
 * {@code Σ (pruned − dense)²} beside the dense output's {@code Σ dense²}, whose ratio is the
 * relative squared error. Merges exactly.
 */
public final class FidelityCounts implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final long rows;
  private final ExactSum cosineSum;
  private final long tokens;
  private final ExactSum tokenCosineSum;
  private final ExactSum errorSum;
  private final ExactSum referenceSum;

  /**
   * Counts from their parts (the sums are copied).
   *
   * @param rows rows compared
   * @param cosineSum sum over rows of the pooled vectors' cosine similarity
   * @param tokens token positions compared
   * @param tokenCosineSum sum over token positions of the vectors' cosine similarity
   * @param errorSum sum of squared differences over every value of the token positions
   * @param referenceSum sum of the dense output's squares over the same values
   */
  public FidelityCounts(long rows, ExactSum cosineSum, long tokens, ExactSum tokenCosineSum, ExactSum errorSum,
      ExactSum referenceSum) {
    if (rows < 0 || tokens < 0) {
      throw new IllegalArgumentException("inconsistent fidelity counts: rows=" + rows + ", tokens=" + tokens);
    }
    this.rows = rows;
    this.cosineSum = cosineSum.copy();
    this.tokens = tokens;
    this.tokenCosineSum = tokenCosineSum.copy();
    this.errorSum = errorSum.copy();
    this.referenceSum = referenceSum.copy();
  }

  /** The counts of no rows. */
  public static FidelityCounts empty() {
    return new FidelityCounts(0, new ExactSum(), 0, new ExactSum(), new ExactSum(), new ExactSum());
  }

  /** The counts of both. */
  public FidelityCounts merge(FidelityCounts o) {
    return new FidelityCounts(Math.addExact(rows, o.rows), cosineSum.copy().merge(o.cosineSum),
        Math.addExact(tokens, o.tokens), tokenCosineSum.copy().merge(o.tokenCosineSum),
        errorSum.copy().merge(o.errorSum), referenceSum.copy().merge(o.referenceSum));
  }

  /** Rows compared. */
  public long rows() {
    return rows;
  }

  /** Token positions compared. */
  public long tokens() {
    return tokens;
  }

  /** Mean over rows of the pooled outputs' cosine similarity; NaN for no rows. */
  public double cosine() {
    return rows == 0 ? Double.NaN : cosineSum.value() / rows;
  }

  /** Mean over token positions of the outputs' cosine similarity; NaN for none. */
  public double tokenCosine() {
    return tokens == 0 ? Double.NaN : tokenCosineSum.value() / tokens;
  }

  /** {@code Σ (pruned − dense)² / Σ dense²} over the token positions; NaN for none. */
  public double relativeError() {
    return tokens == 0 ? Double.NaN : errorSum.value() / referenceSum.value();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FidelityCounts f && rows == f.rows && tokens == f.tokens && cosineSum.equals(f.cosineSum)
        && tokenCosineSum.equals(f.tokenCosineSum) && errorSum.equals(f.errorSum)
        && referenceSum.equals(f.referenceSum);
  }

  @Override
  public int hashCode() {
    return Objects.hash(rows, tokens, cosineSum, tokenCosineSum, errorSum, referenceSum);
  }

  @Override
  public String toString() {
    return "FidelityCounts[rows=" + rows + ", cosine=" + cosine() + ", tokens=" + tokens + ", tokenCosine="
        + tokenCosine() + ", relativeError=" + relativeError() + "]";
  }
}
