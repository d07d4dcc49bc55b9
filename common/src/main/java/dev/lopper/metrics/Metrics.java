package dev.lopper.metrics;

import dev.lopper.InvalidInputException;
import java.util.List;

/**
 * The metrics of one model variant on some rows, computed from a {@link Tally}.
 *
 * <p>Definitions (as PyTorch and scikit-learn compute them, {@code labels=range(C)},
 * {@code zero_division=0}): accuracy and top-5 are fractions of labelled rows; loss is the mean
 * cross-entropy (natural log) over labelled rows; precision, recall and F1 are macro averages over
 * all classes 0..C-1, a class's value being 0 when its denominator is 0 (per-class F1 is
 * {@code 2tp / (2tp + fp + fn)}); kl is the mean KL divergence of this variant's softmax from the
 * dense model's. A metric with no rows to average over is NaN.
 *
 * @param accuracy fraction of labelled rows whose argmax is the label
 * @param top5 fraction of labelled rows whose label is among the top min(5, C) logits
 * @param loss mean cross-entropy over labelled rows
 * @param precisionMacro macro-averaged precision
 * @param recallMacro macro-averaged recall
 * @param f1Macro macro-averaged F1
 * @param kl mean KL(dense || variant) over rows compared with the dense model
 * @param samples rows seen
 */
public record Metrics(double accuracy, double top5, double loss, double precisionMacro,
    double recallMacro, double f1Macro, double kl, long samples) {

  /** The metric names {@link #get} accepts. */
  public static final List<String> NAMES =
      List.of("accuracy", "top5", "loss", "f1", "precision", "recall", "kl");

  /** The metrics of a tally. */
  public static Metrics of(Tally t) {
    int classes = t.classes();
    long[] cm = t.confusion();
    double precision = Double.NaN;
    double recall = Double.NaN;
    double f1 = Double.NaN;
    if (t.labelled() > 0) {
      double precisionSum = 0;
      double recallSum = 0;
      double f1Sum = 0;
      for (int c = 0; c < classes; c++) {
        long tp = cm[c * classes + c];
        long predicted = 0;
        long actual = 0;
        for (int k = 0; k < classes; k++) {
          predicted += cm[k * classes + c];
          actual += cm[c * classes + k];
        }
        long fp = predicted - tp;
        long fn = actual - tp;
        precisionSum += predicted == 0 ? 0 : (double) tp / predicted;
        recallSum += actual == 0 ? 0 : (double) tp / actual;
        long f1Denominator = 2 * tp + fp + fn;
        f1Sum += f1Denominator == 0 ? 0 : 2.0 * tp / f1Denominator;
      }
      precision = precisionSum / classes;
      recall = recallSum / classes;
      f1 = f1Sum / classes;
    }
    return new Metrics(
        ratio(t.correct(), t.labelled()),
        ratio(t.top5Correct(), t.labelled()),
        t.labelled() == 0 ? Double.NaN : t.lossSum().value() / t.labelled(),
        precision, recall, f1,
        t.compared() == 0 ? Double.NaN : t.klSum().value() / t.compared(),
        t.samples());
  }

  private static double ratio(long count, long total) {
    return total == 0 ? Double.NaN : (double) count / total;
  }

  /**
   * The metric named {@code name}: one of accuracy, top5, loss, f1, precision, recall, kl.
   *
   * @throws InvalidInputException for any other name
   */
  public double get(String name) {
    return switch (name) {
      case "accuracy" -> accuracy;
      case "top5" -> top5;
      case "loss" -> loss;
      case "f1" -> f1Macro;
      case "precision" -> precisionMacro;
      case "recall" -> recallMacro;
      case "kl" -> kl;
      default -> throw unknown(name);
    };
  }

  /** Whether a larger value of metric {@code name} is better (false for loss and kl). */
  public static boolean higherIsBetter(String name) {
    return switch (name) {
      case "accuracy", "top5", "f1", "precision", "recall" -> true;
      case "loss", "kl" -> false;
      default -> throw unknown(name);
    };
  }

  /**
   * How much worse {@code value} is than {@code baseline} for metric {@code name}:
   * {@code baseline - value} when higher is better, {@code value - baseline} otherwise.
   */
  public static double drop(String name, double baseline, double value) {
    return higherIsBetter(name) ? baseline - value : value - baseline;
  }

  private static InvalidInputException unknown(String name) {
    return new InvalidInputException("metric '" + name + "' is not one of " + NAMES);
  }
}
