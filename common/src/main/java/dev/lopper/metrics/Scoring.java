package dev.lopper.metrics;

import java.io.Serializable;

/**
 * How a model's outputs are scored: its {@link Task}, and for classifiers the number of classes.
 * Small and serialisable, so Spark tasks receive it and make their {@link Accumulator}s from it.
 *
 * @param task what the output means
 * @param classes the number of classes of a classifier; 0 for the other tasks
 */
public record Scoring(Task task, int classes) implements Serializable {

  public Scoring {
    if (task == Task.CLASSIFICATION ? classes <= 0 : classes != 0) {
      throw new IllegalArgumentException(task + " scoring with " + classes + " classes");
    }
  }

  /** A classifier of {@code classes} classes. */
  public static Scoring classification(int classes) {
    return new Scoring(Task.CLASSIFICATION, classes);
  }

  /** A causal language model scored on its target tokens. */
  public static Scoring languageModel() {
    return new Scoring(Task.LANGUAGE_MODEL, 0);
  }

  /** Any output compared with the dense model's. */
  public static Scoring fidelity() {
    return new Scoring(Task.FIDELITY, 0);
  }

  /** An empty accumulator. */
  public Accumulator accumulator() {
    return switch (task) {
      case CLASSIFICATION -> new TallyAccumulator(classes);
      case LANGUAGE_MODEL -> new TokenAccumulator();
      case FIDELITY -> new FidelityAccumulator();
    };
  }

  /** The tally of no rows. */
  public Tally empty() {
    return Tally.empty(task, classes);
  }
}
