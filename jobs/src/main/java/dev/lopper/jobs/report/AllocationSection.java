package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.markup;
import static dev.lopper.jobs.report.Html.percent;
import static dev.lopper.jobs.report.Html.signed;
import static dev.lopper.jobs.report.ReportRun.number;

import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.output.RunResults;
import gg.jte.Content;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * "Allocation" ({@code report/allocation.jte}, prune runs): a bar per tensor with the chosen
 * sparsity, pruned of total parameters and the predicted drop, the overall target marked.
 *
 * @param policy the allocation policy
 * @param target the overall target as a percentage, or null when the policy has none ({@code
 *     tolerance})
 * @param withPrevious whether the table has the previous run's sparsities
 * @param rows one per tensor
 * @param total all prunable tensors together
 */
public record AllocationSection(String policy, String target, boolean withPrevious, List<Row> rows, Row total) {

  /**
   * A row of the table.
   *
   * @param tensor the tensor ("all prunable tensors" for the total)
   * @param node the readable name of an anonymous tensor, or null
   * @param parameters its parameters
   * @param bar the bar of its sparsity (SVG, with the table's values as data attributes); null in the total
   * @param sparsity the chosen sparsity
   * @param pruned the pruned parameters
   * @param predictedDrop the predicted drop
   * @param previousSparsity the previous run's sparsity ("" in the total)
   */
  public record Row(String tensor, String node, String parameters, Content bar, String sparsity, String pruned,
      String predictedDrop, String previousSparsity) {}

  static AllocationSection of(ReportRun run) {
    double target = number(run.config().get("allocation.target"), Double.NaN);
    boolean targeted = !run.policy().equals("tolerance");
    Map<String, Object> previousSparsity = new LinkedHashMap<>();
    if (run.manifest().comparison().get("tensors") instanceof List<?> list) {
      for (Object o : list) {
        Map<?, ?> e = (Map<?, ?>) o;
        previousSparsity.put(String.valueOf(e.get("tensor")), e.get("previous_sparsity"));
      }
    }
    List<Row> rows = new ArrayList<>();
    long parameters = 0;
    long pruned = 0;
    for (TensorAllocation row : run.tables().allocation()) {
      String tensor = ReportRun.orEmpty(row.tensor());
      parameters += row.parameters();
      pruned += row.pruned();
      Map<String, String> data = new LinkedHashMap<>();
      data.put("data-tensor", tensor);
      data.put("data-sparsity", exact(row.sparsity()));
      data.put("data-parameters", Long.toString(row.parameters()));
      data.put("data-pruned", Long.toString(row.pruned()));
      data.put("data-predicted-drop", exact(row.predictedDrop()));
      rows.add(new Row(tensor, row.node(), count(row.parameters()), markup(SvgCharts.fractionBar("alloc-bar", data,
          row.sparsity(), targeted ? target : Double.NaN, "#4e79a7")), percent(row.sparsity()),
          count(row.pruned()), signed(row.predictedDrop()),
          percent(number(previousSparsity.get(tensor), Double.NaN))));
    }
    Row total = new Row("all prunable tensors", null, count(parameters), null,
        percent(parameters == 0 ? Double.NaN : (double) pruned / parameters), count(pruned),
        signed(RunResults.read(run.manifest().results(), RunResults.Verified.class)
            .map(RunResults.Verified::predictedDrop).orElse(Double.NaN)), "");
    return new AllocationSection(run.policy(), targeted ? percent(target) : null, !previousSparsity.isEmpty(),
        List.copyOf(rows), total);
  }
}
