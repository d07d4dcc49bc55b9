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
 * <p>A language model's tally gives {@code loss} (mean negative log-likelihood of the target
 * tokens), {@code perplexity} ({@code exp(loss)}) and {@code accuracy} (of next-token argmax); a
 * fidelity comparison's gives {@code cosine}, {@code token_cosine} and {@code relative_error}
 * ({@link FidelityCounts}). {@link #task()} says which metrics a value measured; the others are
 * NaN.
 *
 * @param accuracy fraction of labelled rows whose argmax is the label
 * @param top5 fraction of labelled rows whose label is among the top min(5, C) logits
 * @param loss mean cross-entropy over labelled rows
 * @param precisionMacro macro-averaged precision
 * @param recallMacro macro-averaged recall
 * @param f1Macro macro-averaged F1
 * @param kl mean KL(dense || variant) over rows compared with the dense model
 * @param perplexity exp of the mean token negative log-likelihood
 * @param cosine mean over rows of the pooled outputs' cosine similarity to the dense model's
 * @param tokenCosine mean over token positions of the outputs' cosine similarity
 * @param relativeError squared error of the outputs relative to the dense outputs' squares
 * @param samples rows seen
 * @param task what the tally counted, and so which metrics are measured
 */
public record Metrics(double accuracy, double top5, double loss, double precisionMacro,
    double recallMacro, double f1Macro, double kl, double perplexity, double cosine, double tokenCosine,
    double relativeError, long samples, Task task) {

  /** The metric names {@link #get} accepts. */
  public static final List<String> NAMES = List.of("accuracy", "top5", "loss", "f1", "precision", "recall", "kl",
      "perplexity", "cosine", "token_cosine", "relative_error");

  /** A classifier's metrics. */
  public Metrics(double accuracy, double top5, double loss, double precisionMacro, double recallMacro,
      double f1Macro, double kl, long samples) {
    this(accuracy, top5, loss, precisionMacro, recallMacro, f1Macro, kl, Double.NaN, Double.NaN, Double.NaN,
        Double.NaN, samples, Task.CLASSIFICATION);
  }

  /** The metrics of a tally. */
  public static Metrics of(Tally t) {
    double nan = Double.NaN;
    if (t.tokens() != null) {
      TokenCounts k = t.tokens();
      double loss = k.targets() == 0 ? nan : k.nllSum().value() / k.targets();
      return new Metrics(ratio(k.correct(), k.targets()), nan, loss, nan, nan, nan, nan, Math.exp(loss), nan, nan,
          nan, t.samples(), Task.LANGUAGE_MODEL);
    }
    if (t.fidelity() != null) {
      FidelityCounts f = t.fidelity();
      return new Metrics(nan, nan, nan, nan, nan, nan, nan, nan, f.cosine(), f.tokenCosine(), f.relativeError(),
          t.samples(), Task.FIDELITY);
    }
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
   * The metric named {@code name}, one of {@link #NAMES}; NaN when {@link #task()} does not measure it.
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
      case "perplexity" -> perplexity;
      case "cosine" -> cosine;
      case "token_cosine" -> tokenCosine;
      case "relative_error" -> relativeError;
      default -> throw unknown(name);
    };
  }

  /** Whether a larger value of metric {@code name} is better (false for loss, kl, perplexity and errors). */
  public static boolean higherIsBetter(String name) {
    return switch (name) {
      case "accuracy", "top5", "f1", "precision", "recall", "cosine", "token_cosine" -> true;
      case "loss", "kl", "perplexity", "relative_error" -> false;
      default -> throw unknown(name);
    };
  }

  /**
   * How much worse {@code value} is than {@code baseline} for metric {@code name}:
   * {@code baseline - value} when higher is better, {@code value - baseline} otherwise; for
   * perplexity, which grows by factors, the relative increase {@code value / baseline - 1}.
   */
  public static double drop(String name, double baseline, double value) {
    if (name.equals("perplexity")) {
      return value / baseline - 1;
    }
    return higherIsBetter(name) ? baseline - value : value - baseline;
  }

  private static InvalidInputException unknown(String name) {
    return new InvalidInputException("metric '" + name + "' is not one of " + NAMES);
  }
}
