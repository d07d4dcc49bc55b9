package dev.lopper.metrics;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.eval.Logits;

/**
 * Accumulates {@link FidelityCounts}: how close a variant's output is to the dense model's on the
 * same rows. For an output {@code [rows, positions, width]} aligned with a batch of sequences, the
 * positions that count are the row's tokens (attention mask 1), so padding never counts and a row
 * gives the same pooled vector padded or not; an output {@code [rows, width]} (already pooled) has
 * one position per row. In double, from the float outputs:
 * <ul>
 *   <li>cosine: of the two outputs' sums over the row's token positions (the mean-pooled vectors,
 *       up to a common factor);
 *   <li>token cosine: of the two vectors at each token position;
 *   <li>squared error and the dense output's squares, over every value of the token positions.
 * </ul>
 * Two vectors of which one is zero have cosine 1 when both are, 0 otherwise.
 */
public final class FidelityAccumulator implements Accumulator {
  private long samples;
  private long rows;
  private final ExactSum cosineSum = new ExactSum();
  private long tokens;
  private final ExactSum tokenCosineSum = new ExactSum();
  private final ExactSum errorSum = new ExactSum();
  private final ExactSum referenceSum = new ExactSum();

  @Override
  public FidelityAccumulator add(Logits output, Batch batch, Logits dense) {
    if (dense == null) {
      throw new IllegalArgumentException("fidelity compares with the dense output; none was given");
    }
    if (output.rows() != batch.rows() || dense.rows() != output.rows() || dense.positions() != output.positions()
        || dense.classes() != output.classes()) {
      throw new IllegalArgumentException("outputs " + output + " and dense " + dense + " for " + batch);
    }
    int positions = output.positions();
    boolean masked = batch.positions() > 0 && positions == batch.positions();
    if (positions > 1 && !masked) {
      throw new InvalidInputException("the model's output is " + output + " for " + batch
          + "; fidelity needs an output [rows, width] or [rows, positions, width] with one position per token");
    }
    int width = output.classes();
    float[] p = output.values();
    float[] d = dense.values();
    double[] pooledP = new double[width];
    double[] pooledD = new double[width];
    for (int r = 0; r < output.rows(); r++) {
      samples++;
      java.util.Arrays.fill(pooledP, 0);
      java.util.Arrays.fill(pooledD, 0);
      for (int t = 0; t < positions; t++) {
        if (masked && !batch.counts(r, t)) {
          continue;
        }
        int base = (r * positions + t) * width;
        double dot = 0;
        double pp = 0;
        double dd = 0;
        double err = 0;
        for (int c = 0; c < width; c++) {
          double a = p[base + c];
          double b = d[base + c];
          pooledP[c] += a;
          pooledD[c] += b;
          dot += a * b;
          pp += a * a;
          dd += b * b;
          err += (a - b) * (a - b);
        }
        tokens++;
        tokenCosineSum.add(cosine(dot, pp, dd));
        errorSum.add(err);
        referenceSum.add(dd);
      }
      double dot = 0;
      double pp = 0;
      double dd = 0;
      for (int c = 0; c < width; c++) {
        dot += pooledP[c] * pooledD[c];
        pp += pooledP[c] * pooledP[c];
        dd += pooledD[c] * pooledD[c];
      }
      rows++;
      cosineSum.add(cosine(dot, pp, dd));
    }
    return this;
  }

  private static double cosine(double dot, double aa, double bb) {
    if (aa == 0 || bb == 0) {
      return aa == bb ? 1 : 0;
    }
    return dot / (Math.sqrt(aa) * Math.sqrt(bb));
  }

  @Override
  public Tally toTally() {
    return new Tally(samples, new FidelityCounts(rows, cosineSum, tokens, tokenCosineSum, errorSum, referenceSum));
  }
}
