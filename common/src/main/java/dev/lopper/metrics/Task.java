package dev.lopper.metrics;

import java.util.List;

/**
 * What a model's output means, and so which metrics a {@link Tally} of it gives.
 */
public enum Task {
  /** Class logits {@code [rows, classes]} scored against integer labels (and the dense logits). */
  CLASSIFICATION(List.of("accuracy", "top5", "loss", "precision", "recall", "f1", "kl")),
  /**
   * Next-token logits {@code [rows, positions, vocabulary]} scored against target tokens: mean token
   * negative log-likelihood ({@code loss}), {@code perplexity} and next-token {@code accuracy}.
   */
  LANGUAGE_MODEL(List.of("accuracy", "loss", "perplexity")),
  /**
   * Any output (a hidden state, an embedding) compared with the dense model's on the same rows:
   * {@code cosine} of the mean-pooled vectors, per-token {@code token_cosine} and the
   * {@code relative_error}.
   */
  FIDELITY(List.of("cosine", "token_cosine", "relative_error"));

  private final List<String> metrics;

  Task(List<String> metrics) {
    this.metrics = metrics;
  }

  /** The metrics a tally of this task measures, by the names {@link Metrics#get} takes. */
  public List<String> metrics() {
    return metrics;
  }

  /** Whether a tally of this task measures metric {@code name}. */
  public boolean measures(String name) {
    return metrics.contains(name);
  }
}
