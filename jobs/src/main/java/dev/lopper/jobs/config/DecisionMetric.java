package dev.lopper.jobs.config;

import dev.lopper.metrics.Metrics;
import dev.lopper.InvalidInputException;
import java.util.Arrays;
import java.util.List;

/**
 * The metric that drives decisions: the allocation's predicted drops and the quality gate.
 *
 * <p>A <em>drop</em> is always "how much worse than the dense model", positive when worse, whatever
 * the metric's direction: {@code baseline - value} for accuracy, top-5 accuracy and F1,
 * {@code value - baseline} for loss and the KL divergence from the dense outputs, and the relative
 * increase {@code value / baseline - 1} for perplexity.
 */
public enum DecisionMetric {
  /** Top-1 accuracy; needs labels. */
  ACCURACY("accuracy", true),
  /** Top-5 accuracy; needs labels. */
  TOP5("top5", true),
  /** Mean cross-entropy loss; needs labels. */
  LOSS("loss", true),
  /** Macro-averaged F1 score; needs labels. */
  F1("f1", true),
  /** Mean KL divergence of the pruned model's outputs from the dense model's; needs no labels. */
  KL("kl", false),
  /** A language model's perplexity on its target tokens (by default the input ids shifted by one). */
  PERPLEXITY("perplexity", false),
  /**
   * Mean cosine similarity of the pruned model's mean-pooled output to the dense model's, any output;
   * needs no labels.
   */
  COSINE("cosine", false);

  private final String configName;
  private final boolean needsLabels;

  DecisionMetric(String configName, boolean needsLabels) {
    this.configName = configName;
    this.needsLabels = needsLabels;
  }

  /** The name used in configuration files and tables: {@code accuracy}, {@code top5}, ... */
  public String configName() {
    return configName;
  }

  /** True for accuracy, top5 and f1; false for loss and kl. */
  public boolean higherIsBetter() {
    return Metrics.higherIsBetter(configName);
  }

  /** True when the metric compares predictions with labels. */
  public boolean needsLabels() {
    return needsLabels;
  }

  /** How much worse {@code value} is than {@code baseline}; positive when worse. */
  public double drop(double baseline, double value) {
    return Metrics.drop(configName, baseline, value);
  }

  /** The metric named {@code name} in configuration. */
  public static DecisionMetric fromName(String name) {
    for (DecisionMetric metric : values()) {
      if (metric.configName.equals(name)) {
        return metric;
      }
    }
    throw new InvalidInputException("unknown metric '" + name + "'; known metrics: " + String.join(", ", names()));
  }

  /** The configuration names of every metric, in declaration order. */
  public static List<String> names() {
    return Arrays.stream(values()).map(DecisionMetric::configName).toList();
  }
}
