package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.percent;
import static dev.lopper.jobs.report.Html.signed;

import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunResults;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.fs.Path;

/**
 * The report's summary ({@code report/summary.jte}): a card each for the gate's verdict, the
 * decision metric, the overall sparsity, the predicted and measured drop, the sweep and the change
 * since the previous run, those the run has.
 *
 * @param cards the cards, in the page's order
 */
public record SummarySection(List<Card> cards) {

  /**
   * One card.
   *
   * @param label what it shows
   * @param value the figure
   * @param detail a line under the figure
   * @param cssClass {@code ok}, {@code fail} or ""
   */
  public record Card(String label, String value, String detail, String cssClass) {}

  static SummarySection of(ReportRun run) {
    Manifest m = run.manifest();
    String metric = run.metric();
    Map<String, Object> r = m.results();
    List<Card> cards = new ArrayList<>();
    GateVerdict gate = m.gate();
    if (gate != null) {
      cards.add(new Card("Quality gate", gate.passed() ? "passed" : "FAILED", gate.describe(),
          gate.passed() ? "ok" : "fail"));
    }
    Optional<RunResults.Verified> verified = RunResults.read(r, RunResults.Verified.class);
    RunResults.Metrics dense = verified.map(RunResults.Verified::dense)
        .or(() -> RunResults.read(r, RunResults.Sweep.class).map(RunResults.Sweep::dense)).orElse(null);
    double denseValue = dense == null || Double.isNaN(dense.value(metric))
        ? (run.curves() == null ? Double.NaN : run.curves().baseline()) : dense.value(metric);
    if (run.isPrune() && verified.isPresent()) {
      RunResults.Metrics pruned = verified.get().pruned();
      cards.add(new Card(metric + ", dense → pruned", num(denseValue) + " → " + num(pruned.value(metric)),
          "verified on " + count(pruned.samples()) + " rows", ""));
    } else {
      cards.add(new Card(metric + ", dense", num(denseValue), "the baseline of the sweep", ""));
    }
    RunResults.read(r, RunResults.Masks.class).ifPresent(masks -> cards.add(new Card("Overall sparsity",
        percent(masks.sparsity()), count(masks.prunedParameters()) + " of " + count(masks.parameters())
            + " prunable parameters pruned by " + run.config().getOrDefault("sweep.criterion", "")
            + (masks.pattern() != null ? ", pattern " + masks.pattern() : ""), "")));
    String policy = run.policy();
    verified.ifPresent(v -> cards.add(new Card("Drop, predicted / measured", signed(v.predictedDrop()) + " / "
        + signed(v.measuredDrop()), "policy " + policy
        + (policy.equals("tolerance") ? ", tolerance " + run.config().get("allocation.tolerance")
            : ", target " + run.config().get("allocation.target")), "")));
    RunResults.Data data = RunResults.read(r, RunResults.Data.class).orElse(null);
    if (run.curves() != null) {
      cards.add(new Card("Sweep", run.curves().curves().size() + " tensors × " + run.curves().grid().length
          + " sparsities", "criterion " + run.config().getOrDefault("sweep.criterion", "") + ", "
          + count(data == null ? 0 : data.rows()) + " rows in " + (data == null ? 0 : data.partitions())
          + " partitions", ""));
    }
    if (m.previousRun() != null && m.comparison().get(run.isPrune() ? "pruned" : "dense") instanceof Map<?, ?> c
        && c.get(metric) instanceof Map<?, ?> change) {
      cards.add(new Card("Since previous run", signed(ReportRun.number(change.get("change"), Double.NaN)),
          metric + (run.isPrune() ? " of the pruned model" : " of the dense model") + " vs "
              + new Path(m.previousRun()).getName(), ""));
    }
    return new SummarySection(List.copyOf(cards));
  }
}
