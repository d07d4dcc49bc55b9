package dev.lopper.metrics;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.eval.Logits;

/**
 * Accumulates a causal language model's {@link TokenCounts} from batches of next-token logits
 * {@code [rows, positions, vocabulary]}. Per position with a target {@code y} (not {@link
 * Batch#NO_TARGET}), with float32 logits {@code x}: the negative log-likelihood
 * {@code logsumexp(x) - x[y]} in double, shifted by the max (as {@link TallyAccumulator}'s loss);
 * correct when the argmax, the lowest index among equal maxima, is {@code y}. The dense output is
 * not used.
 */
public final class TokenAccumulator implements Accumulator {
  private long samples;
  private long targets;
  private long correct;
  private final ExactSum nllSum = new ExactSum();

  @Override
  public TokenAccumulator add(Logits output, Batch batch, Logits dense) {
    if (!batch.hasTargets()) {
      throw new IllegalArgumentException(batch + " has no target tokens to score a language model on");
    }
    if (output.rows() != batch.rows() || output.positions() != batch.positions()) {
      throw new InvalidInputException("the model's output is " + output + " for " + batch
          + "; a language model's metrics need logits [rows, positions, vocabulary] with one position per token");
    }
    int vocabulary = output.classes();
    int positions = batch.positions();
    // Check every target before counting anything, so a bad batch leaves the counts unchanged.
    for (int r = 0; r < batch.rows(); r++) {
      for (int t = 0; t < positions; t++) {
        long y = batch.target(r, t);
        if (y != Batch.NO_TARGET && (y < 0 || y >= vocabulary)) {
          throw new InvalidInputException(batch.labelColumn() + " row " + (batch.firstRow() + r) + " position "
              + t + " has target token " + y + ", outside [0, " + vocabulary + "): the model's output has "
              + vocabulary + " logits per position");
        }
      }
    }
    float[] x = output.values();
    for (int r = 0; r < batch.rows(); r++) {
      samples++;
      for (int t = 0; t < positions; t++) {
        long y = batch.target(r, t);
        if (y == Batch.NO_TARGET) {
          continue;
        }
        int base = (r * positions + t) * vocabulary;
        int predicted = 0;
        float best = x[base];
        for (int c = 1; c < vocabulary; c++) {
          if (x[base + c] > best) {
            best = x[base + c];
            predicted = c;
          }
        }
        targets++;
        if (predicted == y) {
          correct++;
        }
        nllSum.add(TallyAccumulator.logSumExp(x, base, vocabulary) - x[base + (int) y]);
      }
    }
    return this;
  }

  @Override
  public Tally toTally() {
    return new Tally(samples, new TokenCounts(targets, correct, nllSum));
  }
}
