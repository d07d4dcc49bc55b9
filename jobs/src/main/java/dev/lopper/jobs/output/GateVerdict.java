package dev.lopper.jobs.output;

import dev.lopper.jobs.config.DecisionMetric;
import java.math.BigDecimal;
import java.math.MathContext;

/**
 * The quality gate's verdict: the decision metric of the dense and the pruned model, measured on
 * the whole validation set, and whether the drop is within the configured maximum.
 *
 * @param metric the decision metric's configuration name
 * @param dense the dense model's value
 * @param pruned the pruned model's value
 * @param drop how much worse the pruned model is ({@link DecisionMetric#drop})
 * @param maxDrop the configured maximum drop, or null when no gate is configured
 * @param passed true when there is no gate or {@code drop <= maxDrop}
 */
public record GateVerdict(String metric, double dense, double pruned, double drop, Double maxDrop, boolean passed) {

  /** Judges a verified pair of measurements against {@code maxDrop} (null: no gate, always passes). */
  public static GateVerdict judge(DecisionMetric metric, double dense, double pruned, Double maxDrop) {
    double drop = metric.drop(dense, pruned);
    boolean passed = maxDrop == null || drop <= maxDrop;
    return new GateVerdict(metric.configName(), dense, pruned, drop, maxDrop, passed);
  }

  /** One line for people: "accuracy 0.981 -> 0.947, drop 0.034 > max-drop 0.02". */
  public String describe() {
    String comparison = maxDrop == null ? "(no gate)" : (passed ? "<= max-drop " : "> max-drop ") + maxDrop;
    return metric + " " + brief(dense) + " -> " + brief(pruned) + ", drop " + brief(drop) + " " + comparison;
  }

  /** Six significant digits, no trailing zeros. */
  private static String brief(double x) {
    if (!Double.isFinite(x)) {
      return Double.toString(x);
    }
    return new BigDecimal(x).round(new MathContext(6)).stripTrailingZeros().toPlainString();
  }
}
