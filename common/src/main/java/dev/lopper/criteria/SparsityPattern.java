package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import java.io.Serial;
import java.io.Serializable;

/**
 * Where pruned weights may fall: anywhere ({@link #UNSTRUCTURED}), or N:M, at most {@code n}
 * non-zero weights in every {@code m} consecutive weights along the input dimension of each output
 * row (2:4 and 4:8 are what sparse tensor cores run). An N:M tensor's sparsity is always
 * {@code (m - n) / m}.
 *
 * @param n weights kept per group (0 for unstructured)
 * @param m group length (0 for unstructured)
 */
public record SparsityPattern(int n, int m) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** No pattern: any weights may be pruned. */
  public static final SparsityPattern UNSTRUCTURED = new SparsityPattern(0, 0);

  public SparsityPattern {
    if (!(n == 0 && m == 0) && !(n >= 1 && m > n)) {
      throw new InvalidInputException("sweep.pattern: N:M needs 1 <= N < M, got " + n + ":" + m);
    }
  }

  /**
   * The pattern configuration names: {@code unstructured} or {@code N:M} (e.g. {@code 2:4}).
   *
   * @throws InvalidInputException for anything else, or N ≥ M
   */
  public static SparsityPattern parse(String text) {
    String t = text.trim();
    if (t.equals("unstructured")) {
      return UNSTRUCTURED;
    }
    int colon = t.indexOf(':');
    if (colon > 0) {
      try {
        return new SparsityPattern(Integer.parseInt(t.substring(0, colon).trim()),
            Integer.parseInt(t.substring(colon + 1).trim()));
      } catch (NumberFormatException e) {
        // falls through to the message below
      }
    }
    throw new InvalidInputException("sweep.pattern: '" + text + "' is neither unstructured nor N:M (e.g. 2:4, 4:8)");
  }

  /** Whether this is an N:M pattern. */
  public boolean isNm() {
    return m > 0;
  }

  /** The sparsity every N:M tensor has, {@code (m - n) / m}; NaN for unstructured. */
  public double sparsity() {
    return isNm() ? (double) (m - n) / m : Double.NaN;
  }

  /**
   * Checks that an N:M pattern fits a tensor whose rows have {@code inputs} weights.
   *
   * @throws InvalidInputException naming the tensor when {@code m} does not divide {@code inputs}
   */
  public void checkFits(String tensor, long inputs) {
    if (isNm() && inputs % m != 0) {
      throw new InvalidInputException("sweep.pattern " + this + ": tensor " + tensor + " has " + inputs
          + " inputs per output row, not a multiple of " + m + "; exclude it (model.exclude) or choose another "
          + "pattern");
    }
  }

  /** {@code unstructured} or {@code N:M}, as configuration writes it. */
  @Override
  public String toString() {
    return isNm() ? n + ":" + m : "unstructured";
  }
}
