package dev.lopper.jobs.output;

import dev.lopper.jobs.config.DecisionMetric;
import java.math.BigDecimal;
import java.math.MathContext;

/**
 * The quality gate's verdict: the decision metric of the dense and the pruned model, measured on
 * the whole validation set, and whether the drop is within the configured maximum; for a structured
 * run with {@code allocation.min-speedup}, also the pruned model's measured speed-up and whether it
 * reaches that minimum.
 *
 * @param metric the decision metric's configuration name
 * @param dense the dense model's value
 * @param pruned the pruned model's value
 * @param drop how much worse the pruned model is ({@link DecisionMetric#drop})
 * @param maxDrop the configured maximum drop, or null when no gate is configured
 * @param passed true when there is no gate or {@code drop <= maxDrop}, and the measured speed-up, if
 *     one is required, is at least {@code minSpeedup}
 * @param minSpeedup the required speed-up ({@code allocation.min-speedup}), or null
 * @param measuredSpeedup the emitted model's measured speed-up over the dense model, or null
 */
public record GateVerdict(String metric, double dense, double pruned, double drop, Double maxDrop, boolean passed,
    Double minSpeedup, Double measuredSpeedup) {

  /** Judges a verified pair of measurements against {@code maxDrop} (null: no gate, always passes). */
  public static GateVerdict judge(DecisionMetric metric, double dense, double pruned, Double maxDrop) {
    double drop = metric.drop(dense, pruned);
    boolean passed = maxDrop == null || drop <= maxDrop;
    return new GateVerdict(metric.configName(), dense, pruned, drop, maxDrop, passed, null, null);
  }

  /** This verdict, also requiring the measured speed-up to be at least {@code minSpeedup}. */
  public GateVerdict withSpeedup(double minSpeedup, double measuredSpeedup) {
    return new GateVerdict(metric, dense, pruned, drop, maxDrop, passed && measuredSpeedup >= minSpeedup, minSpeedup,
        measuredSpeedup);
  }

  /**
   * One line for people: "accuracy 0.981 -> 0.947, drop 0.034 > max-drop 0.02" ("perplexity 5.49 ->
   * 6.03, relative increase 0.097 <= max-drop 0.1" for perplexity), with ", measured
   * speed-up 1.41x < min-speedup 1.5" when a speed-up is required.
   */
  public String describe() {
    boolean dropPassed = maxDrop == null || drop <= maxDrop;
    String comparison = maxDrop == null ? "(no gate)" : (dropPassed ? "<= max-drop " : "> max-drop ") + maxDrop;
    String what = metric.equals(DecisionMetric.PERPLEXITY.configName()) ? ", relative increase " : ", drop ";
    String line = metric + " " + brief(dense) + " -> " + brief(pruned) + what + brief(drop) + " " + comparison;
    if (minSpeedup != null && measuredSpeedup != null) {
      line += ", measured speed-up " + String.format("%.3f", measuredSpeedup) + "x "
          + (measuredSpeedup >= minSpeedup ? ">=" : "<") + " min-speedup " + minSpeedup;
    }
    return line;
  }

  /** Six significant digits, no trailing zeros. */
  private static String brief(double x) {
    if (!Double.isFinite(x)) {
      return Double.toString(x);
    }
    return new BigDecimal(x).round(new MathContext(6)).stripTrailingZeros().toPlainString();
  }
}
