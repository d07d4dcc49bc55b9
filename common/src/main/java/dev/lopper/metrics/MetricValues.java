package dev.lopper.metrics;

import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metric columns of a table row: the sensitivity table holds them twice (the values, and their
 * change from the baseline under the prefix {@code delta_}), the verification table once.
 *
 * <p>Every metric is {@link Optional}: null means the run did not measure it, and a table leaves
 * out the column of a metric that no row measured, so the columns follow the metrics a run has; NaN
 * is a measured value (a metric with no rows to average over) and keeps its column. A metric added
 * for some models only (perplexity, say) is one more nullable component here.
 *
 * <pre>{@code
 * MetricValues pruned = MetricValues.of(tally.metrics());
 * MetricValues delta = pruned.minus(MetricValues.of(baseline.metrics()));
 * Double f1 = pruned.get("f1");   // the f1_macro column
 * }</pre>
 *
 * @param accuracy fraction of labelled rows whose argmax is the label
 * @param top5 fraction of labelled rows whose label is among the top min(5, C) logits
 * @param loss mean cross-entropy over labelled rows
 * @param precisionMacro macro-averaged precision
 * @param recallMacro macro-averaged recall
 * @param f1Macro macro-averaged F1
 * @param kl mean KL divergence of the variant's outputs from the dense model's
 * @param perplexity a language model's perplexity
 * @param cosine mean cosine similarity of the pooled outputs to the dense model's
 * @param tokenCosine mean cosine similarity per token position
 * @param relativeError relative squared error of the outputs
 */
public record MetricValues(@Optional Double accuracy, @Optional Double top5, @Optional Double loss,
    @Optional Double precisionMacro, @Optional Double recallMacro, @Optional Double f1Macro, @Optional Double kl,
    @Optional Double perplexity, @Optional Double cosine, @Optional Double tokenCosine,
    @Optional Double relativeError) {

  /**
   * The columns: {@code accuracy, top5, loss, precision_macro, recall_macro, f1_macro, kl,
   * perplexity, cosine, token_cosine, relative_error} (DOUBLE).
   */
  public static final RowSchema<MetricValues> SCHEMA = RowSchema.of(MetricValues.class);

  /** The classifier metrics' values. */
  public MetricValues(Double accuracy, Double top5, Double loss, Double precisionMacro, Double recallMacro,
      Double f1Macro, Double kl) {
    this(accuracy, top5, loss, precisionMacro, recallMacro, f1Macro, kl, null, null, null, null);
  }

  /** The values of {@code m}: the metrics its task measures, the others null. */
  public static MetricValues of(Metrics m) {
    Task task = m.task();
    return new MetricValues(pick(m, task, "accuracy"), pick(m, task, "top5"), pick(m, task, "loss"),
        pick(m, task, "precision"), pick(m, task, "recall"), pick(m, task, "f1"), pick(m, task, "kl"),
        pick(m, task, "perplexity"), pick(m, task, "cosine"), pick(m, task, "token_cosine"),
        pick(m, task, "relative_error"));
  }

  private static Double pick(Metrics m, Task task, String name) {
    return task.measures(name) ? m.get(name) : null;
  }

  /** Each metric minus {@code base}'s; a metric either side did not measure stays null. */
  public MetricValues minus(MetricValues base) {
    return new MetricValues(minus(accuracy, base.accuracy), minus(top5, base.top5), minus(loss, base.loss),
        minus(precisionMacro, base.precisionMacro), minus(recallMacro, base.recallMacro),
        minus(f1Macro, base.f1Macro), minus(kl, base.kl), minus(perplexity, base.perplexity),
        minus(cosine, base.cosine), minus(tokenCosine, base.tokenCosine), minus(relativeError, base.relativeError));
  }

  /** Column name to value, in column order; null for a metric not measured. */
  public Map<String, Double> byColumn() {
    List<String> names = SCHEMA.columnNames();
    List<Object> values = SCHEMA.values(this);
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      out.put(names.get(i), (Double) values.get(i));
    }
    return out;
  }

  /**
   * The value of metric {@code metric} as configuration and {@link Metrics#get} name it ({@code
   * f1} is the {@code f1_macro} column); null when not measured or not a metric of this block.
   */
  public Double get(String metric) {
    return byColumn().get(column(metric));
  }

  /**
   * The column of metric {@code metric} as configuration and {@link Metrics#get} name it: the
   * macro averages {@code f1}, {@code precision} and {@code recall} have a {@code _macro} suffix,
   * every other metric's column is its name.
   */
  public static String column(String metric) {
    return switch (metric) {
      case "f1", "precision", "recall" -> metric + "_macro";
      default -> metric;
    };
  }

  private static Double minus(Double value, Double base) {
    return value == null || base == null ? null : value - base;
  }
}
