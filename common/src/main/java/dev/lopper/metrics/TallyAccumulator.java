package dev.lopper.metrics;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.eval.Logits;

/**
 * Accumulates a classifier's {@link Tally} from batches of logits inside one task. Mutable, not thread-safe;
 * {@link #toTally()} takes an immutable snapshot.
 *
 * <p>Per row, with float32 logits {@code x} and label {@code y}:
 * <ul>
 *   <li>prediction: the argmax of {@code x}, the lowest index among equal maxima;
 *   <li>top-5 correct: fewer than min(5, C) classes have a logit strictly greater than
 *       {@code x[y]};
 *   <li>loss: {@code logsumexp(x) - x[y]}, in double from the float logits, shifted by the max;
 *   <li>KL: {@code sum_c p_dense(c) (log p_dense(c) - log p(c))} in double from the log-softmaxes
 *       of the dense model's logits and this variant's.
 * </ul>
 */
public final class TallyAccumulator implements Accumulator {
  private final int classes;
  private final int topK;
  private long samples;
  private long labelled;
  private long correct;
  private long top5Correct;
  private final long[] confusion;
  private final ExactSum lossSum = new ExactSum();
  private long compared;
  private final ExactSum klSum = new ExactSum();

  /** An empty accumulator for a model with {@code classes} outputs. */
  public TallyAccumulator(int classes) {
    if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, got " + classes);
    }
    this.classes = classes;
    this.topK = Math.min(5, classes);
    this.confusion = new long[Math.multiplyExact(classes, classes)];
  }

  /**
   * Adds the rows of one batch.
   *
   * @param logits the variant's logits for the batch's rows
   * @param batch the batch they were computed from (its labels, if it has any, are used)
   * @param dense the dense model's logits for the same rows, or null (then no KL is added)
   * @throws InvalidInputException when a label lies outside [0, classes)
   */
  @Override
  public TallyAccumulator add(Logits logits, Batch batch, Logits dense) {
    check(logits, batch.rows(), "logits");
    if (dense != null) {
      check(dense, batch.rows(), "dense logits");
    }
    boolean hasLabels = batch.hasLabels();
    if (hasLabels) {
      // Check every label before counting anything, so a bad batch leaves the tally unchanged.
      for (int r = 0; r < batch.rows(); r++) {
        int label = batch.label(r);
        if (label < 0 || label >= classes) {
          throw new InvalidInputException(batch.labelColumn() + " row " + (batch.firstRow() + r)
              + " has label " + label + ", outside [0, " + classes + "): the model has "
              + classes + " output classes");
        }
      }
    }
    float[] x = logits.values();
    for (int r = 0; r < batch.rows(); r++) {
      int base = r * classes;
      samples++;
      if (hasLabels) {
        int label = batch.label(r);
        int predicted = 0;
        float best = x[base];
        float target = x[base + label];
        int above = 0;
        for (int c = 0; c < classes; c++) {
          float v = x[base + c];
          if (v > best) {
            best = v;
            predicted = c;
          }
          if (v > target) {
            above++;
          }
        }
        labelled++;
        confusion[label * classes + predicted]++;
        if (predicted == label) {
          correct++;
        }
        if (above < topK) {
          top5Correct++;
        }
        lossSum.add(logSumExp(x, base, classes) - target);
      }
      if (dense != null) {
        compared++;
        klSum.add(kl(dense.values(), x, base, classes));
      }
    }
    return this;
  }

  @Override
  public Tally toTally() {
    return new Tally(classes, samples, labelled, correct, top5Correct, confusion, lossSum,
        compared, klSum);
  }

  private void check(Logits l, int rows, String what) {
    if (l.positions() != 1) {
      throw new InvalidInputException("the model's output is " + l + "; a classifier's metrics need logits"
          + " [rows, classes] (for a language model's, ask for perplexity; for a hidden state's, cosine)");
    }
    if (l.classes() != classes) {
      throw new IllegalArgumentException(what + " have " + l.classes()
          + " classes, the tally counts " + classes);
    }
    if (l.rows() != rows) {
      throw new IllegalArgumentException(what + " have " + l.rows() + " rows, the batch "
          + rows);
    }
  }

  /** log(sum_c exp(x[c])) over one row, in double, shifted by the row's max. */
  static double logSumExp(float[] x, int base, int classes) {
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < classes; c++) {
      max = Math.max(max, x[base + c]);
    }
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      sum += Math.exp(x[base + c] - max);
    }
    return max + Math.log(sum);
  }

  /** KL(p || q) of one row, p = softmax(dense), q = softmax(x), in double. */
  static double kl(float[] dense, float[] x, int base, int classes) {
    double lseP = logSumExp(dense, base, classes);
    double lseQ = logSumExp(x, base, classes);
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      double logP = dense[base + c] - lseP;
      double logQ = x[base + c] - lseQ;
      sum += Math.exp(logP) * (logP - logQ);
    }
    return sum;
  }
}
