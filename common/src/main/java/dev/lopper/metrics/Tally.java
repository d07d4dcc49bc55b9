package dev.lopper.metrics;

import java.io.Serial;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * The partial result of evaluating one model variant on some rows: counts, a confusion matrix and
 * exact sums, from which {@link Metrics} follow.
 *
 * <p>Immutable and Serializable (Spark ships it from tasks to the driver). {@link #merge} is
 * associative, commutative and exact: it adds integer counts and {@link ExactSum}s, so tallies of
 * any partitioning of the rows, merged in any order, are {@link #equals equal} and give the same
 * metrics bit for bit.
 *
 * <p>A tally is of one {@link Task}. A classifier's: every row counts in {@link #samples()}; rows
 * with a label count in {@link #labelled()} and feed accuracy, top-5, loss and the confusion
 * matrix; rows evaluated next to the dense model's logits count in {@link #compared()} and feed the
 * KL sum. A language model's holds {@link TokenCounts} instead ({@link #classes()} is 0), and a
 * fidelity comparison's {@link FidelityCounts}.
 */
public final class Tally implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final int classes;
  private final long samples;
  private final long labelled;
  private final long correct;
  private final long top5Correct;
  private final long[] confusion;
  private final ExactSum lossSum;
  private final long compared;
  private final ExactSum klSum;
  private final TokenCounts tokens;
  private final FidelityCounts fidelity;

  /**
   * A tally from its parts (normally made by {@link TallyAccumulator} or {@link #merge}).
   *
   * @param classes number of classes C
   * @param samples rows seen
   * @param labelled rows with a label
   * @param correct labelled rows whose prediction was the label
   * @param top5Correct labelled rows whose label was among the top min(5, C) logits
   * @param confusion C x C counts, row-major, true class x predicted class (copied)
   * @param lossSum sum of per-row cross-entropy over labelled rows (copied)
   * @param compared rows evaluated next to the dense model's logits
   * @param klSum sum of per-row KL(dense || this variant) over compared rows (copied)
   */
  public Tally(int classes, long samples, long labelled, long correct, long top5Correct,
      long[] confusion, ExactSum lossSum, long compared, ExactSum klSum) {
    this(classes, samples, labelled, correct, top5Correct, confusion, lossSum, compared, klSum, null, null);
  }

  /** A language model's tally of {@code samples} rows. */
  public Tally(long samples, TokenCounts tokens) {
    this(0, samples, 0, 0, 0, new long[0], new ExactSum(), 0, new ExactSum(), tokens, null);
  }

  /** A fidelity comparison's tally of {@code samples} rows. */
  public Tally(long samples, FidelityCounts fidelity) {
    this(0, samples, 0, 0, 0, new long[0], new ExactSum(), 0, new ExactSum(), null, fidelity);
  }

  private Tally(int classes, long samples, long labelled, long correct, long top5Correct,
      long[] confusion, ExactSum lossSum, long compared, ExactSum klSum, TokenCounts tokens,
      FidelityCounts fidelity) {
    if (tokens != null || fidelity != null) {
      if (classes != 0 || (tokens != null && fidelity != null)) {
        throw new IllegalArgumentException("a tally is of one task");
      }
    } else if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, got " + classes);
    }
    if (confusion.length != (long) classes * classes) {
      throw new IllegalArgumentException("confusion matrix of " + classes + " classes needs "
          + (long) classes * classes + " cells, got " + confusion.length);
    }
    long cells = 0;
    long trace = 0;
    for (int i = 0; i < confusion.length; i++) {
      if (confusion[i] < 0) {
        throw new IllegalArgumentException("negative count in confusion matrix cell " + i);
      }
      cells += confusion[i];
    }
    for (int c = 0; c < classes; c++) {
      trace += confusion[c * classes + c];
    }
    if (labelled < 0 || labelled > samples || compared < 0 || compared > samples
        || cells != labelled || trace != correct || top5Correct < correct
        || top5Correct > labelled) {
      throw new IllegalArgumentException("inconsistent tally: samples=" + samples + ", labelled="
          + labelled + ", confusion total=" + cells + ", correct=" + correct + ", trace=" + trace
          + ", top5Correct=" + top5Correct + ", compared=" + compared);
    }
    this.classes = classes;
    this.samples = samples;
    this.labelled = labelled;
    this.correct = correct;
    this.top5Correct = top5Correct;
    this.confusion = confusion.clone();
    this.lossSum = lossSum.copy();
    this.compared = compared;
    this.klSum = klSum.copy();
    this.tokens = tokens;
    this.fidelity = fidelity;
  }

  /** The tally of no rows. */
  public static Tally empty(int classes) {
    if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, got " + classes);
    }
    return new Tally(classes, 0, 0, 0, 0, new long[classes * classes], new ExactSum(), 0,
        new ExactSum());
  }

  /** The tally of no rows of {@code task}'s kind ({@code classes} counts for classification only). */
  public static Tally empty(Task task, int classes) {
    return switch (task) {
      case CLASSIFICATION -> empty(classes);
      case LANGUAGE_MODEL -> new Tally(0, TokenCounts.empty());
      case FIDELITY -> new Tally(0, FidelityCounts.empty());
    };
  }

  /**
   * The tally of this tally's rows and {@code other}'s together.
   *
   * @throws IllegalArgumentException when the two are of different tasks or numbers of classes
   */
  public Tally merge(Tally other) {
    if (other.task() != task()) {
      throw new IllegalArgumentException("cannot merge a tally of " + task() + " with one of " + other.task());
    }
    if (tokens != null) {
      return new Tally(Math.addExact(samples, other.samples), tokens.merge(other.tokens));
    }
    if (fidelity != null) {
      return new Tally(Math.addExact(samples, other.samples), fidelity.merge(other.fidelity));
    }
    if (other.classes != classes) {
      throw new IllegalArgumentException("cannot merge a tally of " + classes
          + " classes with one of " + other.classes);
    }
    long[] cells = confusion.clone();
    for (int i = 0; i < cells.length; i++) {
      cells[i] = Math.addExact(cells[i], other.confusion[i]);
    }
    return new Tally(classes, Math.addExact(samples, other.samples),
        Math.addExact(labelled, other.labelled), Math.addExact(correct, other.correct),
        Math.addExact(top5Correct, other.top5Correct), cells,
        lossSum.copy().merge(other.lossSum), Math.addExact(compared, other.compared),
        klSum.copy().merge(other.klSum));
  }

  /** The metrics these counts give. */
  public Metrics metrics() {
    return Metrics.of(this);
  }

  /** What the counted output means. */
  public Task task() {
    return tokens != null ? Task.LANGUAGE_MODEL : fidelity != null ? Task.FIDELITY : Task.CLASSIFICATION;
  }

  /** A language model's token counts, or null for a tally of another task. */
  public TokenCounts tokens() {
    return tokens;
  }

  /** A fidelity comparison's counts, or null for a tally of another task. */
  public FidelityCounts fidelity() {
    return fidelity;
  }

  /** Number of classes C (0 for a tally that is not a classifier's). */
  public int classes() {
    return classes;
  }

  /** Rows seen. */
  public long samples() {
    return samples;
  }

  /** Rows that had a label. */
  public long labelled() {
    return labelled;
  }

  /** Labelled rows predicted correctly (argmax equal to the label). */
  public long correct() {
    return correct;
  }

  /** Labelled rows whose label was among the top min(5, C) logits. */
  public long top5Correct() {
    return top5Correct;
  }

  /** A copy of the confusion matrix: C x C, row-major, true class x predicted class. */
  public long[] confusion() {
    return confusion.clone();
  }

  /** Count of rows of true class {@code actual} predicted as {@code predicted}. */
  public long confusion(int actual, int predicted) {
    Objects.checkIndex(actual, classes);
    Objects.checkIndex(predicted, classes);
    return confusion[actual * classes + predicted];
  }

  /** A copy of the sum of per-row cross-entropy (natural log) over labelled rows. */
  public ExactSum lossSum() {
    return lossSum.copy();
  }

  /** Rows evaluated next to the dense model's logits. */
  public long compared() {
    return compared;
  }

  /** A copy of the sum of per-row KL(dense || variant) over compared rows. */
  public ExactSum klSum() {
    return klSum.copy();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tally t && classes == t.classes && samples == t.samples
        && labelled == t.labelled && correct == t.correct && top5Correct == t.top5Correct
        && compared == t.compared && Arrays.equals(confusion, t.confusion)
        && lossSum.equals(t.lossSum) && klSum.equals(t.klSum) && Objects.equals(tokens, t.tokens)
        && Objects.equals(fidelity, t.fidelity);
  }

  @Override
  public int hashCode() {
    return Objects.hash(classes, samples, labelled, correct, top5Correct, compared,
        Arrays.hashCode(confusion), lossSum, klSum, tokens, fidelity);
  }

  @Override
 public String toString() {
    if (tokens != null || fidelity != null) {
      return "Tally[samples=" + samples + ", " + (tokens != null ? tokens : fidelity) + "]";
    }
    return "Tally[classes=" + classes + ", samples=" + samples + ", labelled=" + labelled
        + ", correct=" + correct + ", top5Correct=" + top5Correct + ", lossSum=" + lossSum.value()
        + ", compared=" + compared + ", klSum=" + klSum.value() + "]";
  }
}
