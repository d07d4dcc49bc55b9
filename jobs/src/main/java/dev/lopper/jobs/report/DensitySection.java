package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.markup;
import static dev.lopper.jobs.report.Html.percent;

import dev.lopper.mask.MaskSummaryRow;
import gg.jte.Content;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * "Density per tensor" ({@code report/density.jte}, prune runs): kept and pruned weights per
 * tensor as the mask has them, bars scaled by the tensor's parameters.
 *
 * @param rows one per tensor of the mask summary
 */
public record DensitySection(List<Row> rows) {

  /**
   * A tensor's row.
   *
   * @param tensor its name
   * @param node the readable name of an anonymous tensor, or null
   * @param shape its dimensions joined by ×
   * @param bar kept and pruned as a bar (SVG, with the table's values as data attributes)
   * @param density the kept fraction
   * @param kept the kept parameters
   * @param parameters all its parameters
   */
  public record Row(String tensor, String node, String shape, Content bar, String density, String kept,
      String parameters) {}

  static DensitySection of(ReportRun run) {
    List<MaskSummaryRow> masks = run.tables().masks();
    long max = 0;
    for (MaskSummaryRow row : masks) {
      max = Math.max(max, row.parameters());
    }
    List<Row> rows = new ArrayList<>();
    for (MaskSummaryRow row : masks) {
      String tensor = ReportRun.orEmpty(row.tensor());
      Map<String, String> data = new LinkedHashMap<>();
      data.put("data-tensor", tensor);
      data.put("data-parameters", Long.toString(row.parameters()));
      data.put("data-kept", Long.toString(row.kept()));
      data.put("data-density", exact(row.density()));
      rows.add(new Row(tensor, row.node(), dimensions(row.shape()),
          markup(SvgCharts.densityBar(data, row.parameters(), row.kept(), max)), percent(row.density()),
          count(row.kept()), count(row.parameters())));
    }
    return new DensitySection(List.copyOf(rows));
  }

  /** A shape as its dimensions joined by {@code ×}, "" for none. */
  private static String dimensions(long[] shape) {
    if (shape == null) {
      return "";
    }
    StringBuilder s = new StringBuilder();
    for (long d : shape) {
      s.append(s.length() == 0 ? "" : "×").append(d);
    }
    return s.toString();
  }
}
