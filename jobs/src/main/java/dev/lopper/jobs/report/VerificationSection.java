package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.signed;

import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.verify.VerificationRow;
import dev.lopper.metrics.MetricValues;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * "Verification and quality gate" ({@code report/verification.jte}, prune runs): the gate's verdict,
 * every metric of the dense and the pruned model on the whole validation set, and the predicted
 * against the measured drop.
 *
 * @param gate the verdict, or null when the run has none
 * @param table the verification table, or null when the run wrote none
 */
public record VerificationSection(Gate gate, Table table) {

  /**
   * The gate's verdict.
   *
   * @param cssClass {@code verdict ok} or {@code verdict fail}
   * @param passed "true" or "false"
   * @param drop the drop, exact
   * @param verdict "passed" or "FAILED"
   * @param description the verdict in one line
   */
  public record Gate(String cssClass, String passed, String drop, String verdict, String description) {
    static Gate of(GateVerdict gate) {
      return new Gate("verdict " + (gate.passed() ? "ok" : "fail"), String.valueOf(gate.passed()),
          exact(gate.drop()), gate.passed() ? "passed" : "FAILED", gate.describe());
    }
  }

  /**
   * The dense and the pruned model's metrics.
   *
   * @param rows one per metric the table holds, in column order; empty when a model's row is missing
   * @param drops the predicted and measured drop, or null when a model's row is missing
   */
  public record Table(List<Row> rows, Drops drops) {}

  /**
   * A metric of both models.
   *
   * @param key whether it is the decision metric (shown bold)
   * @param metric the metric's column
   * @param dense the dense model's value
   * @param pruned the pruned model's value
   * @param change pruned minus dense
   */
  public record Row(boolean key, String metric, String dense, String pruned, String change) {
    /** The row's class: {@code key} or null (none). */
    public String cssClass() {
      return key ? "key" : null;
    }
  }

  /** The decision metric's predicted (sum over tensors) and measured drop. */
  public record Drops(String metric, String predicted, String measured) {}

  static VerificationSection of(ReportRun run) {
    GateVerdict verdict = run.manifest().gate();
    Gate gate = verdict == null ? null : Gate.of(verdict);
    List<VerificationRow> v = run.tables().verification();
    return new VerificationSection(gate, v == null ? null : table(run, v));
  }

  private static Table table(ReportRun run, List<VerificationRow> v) {
    VerificationRow dense = null;
    VerificationRow pruned = null;
    for (VerificationRow row : v) {
      String which = ReportRun.orEmpty(row.model());
      if (which.equals("dense")) {
        dense = row;
      } else if (which.equals("pruned")) {
        pruned = row;
      }
    }
    if (dense == null || pruned == null) {
      return new Table(List.of(), null);
    }
    // One line per metric the table holds (a metric no row measured has no column), in column order.
    Map<String, Double> denseMetrics = dense.metrics().byColumn();
    Map<String, Double> prunedMetrics = pruned.metrics().byColumn();
    List<Row> rows = new ArrayList<>();
    for (String name : denseMetrics.keySet()) {
      if (v.stream().allMatch(row -> row.metrics().byColumn().get(name) == null)) {
        continue;
      }
      double d = orNaN(denseMetrics.get(name));
      double p = orNaN(prunedMetrics.get(name));
      rows.add(new Row(name.equals(MetricValues.column(run.metric())), name, num(d), num(p), signed(p - d)));
    }
    return new Table(List.copyOf(rows),
        new Drops(run.metric(), signed(pruned.predictedDrop()), signed(pruned.measuredDrop())));
  }

  private static double orNaN(Double value) {
    return value == null ? Double.NaN : value;
  }
}
