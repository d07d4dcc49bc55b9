package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.markup;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.signed;

import gg.jte.Content;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * "Sensitivity" ({@code report/sensitivity.jte}): the decision metric against sparsity, one line per
 * tensor, with the gate's (and the tolerance's) line; a zoom near the baseline when the curves
 * reach far below; and the table of the change from the dense value per tensor and sparsity.
 *
 * @param measured whether the run wrote a sensitivity table (if not, the section says so and the
 *     other fields are empty)
 * @param metric the decision metric
 * @param criterion the sweep's criterion
 * @param higherIsBetter whether a higher value of the metric is better
 * @param chart the plot (SVG drawn by {@link SvgCharts}, escaped there)
 * @param legend one item per tensor
 * @param withPrevious whether the plot has the previous run's curves (and the legend their item)
 * @param zoom the plot near the baseline, or null
 * @param allocated whether some cells are outlined as the allocated sparsity
 * @param sparsities the table's column heads, the swept sparsities as percentages
 * @param rows the table's rows, one per tensor
 */
public record SensitivitySection(boolean measured, String metric, String criterion, boolean higherIsBetter,
    Content chart, List<LegendItem> legend, boolean withPrevious, Zoom zoom, boolean allocated,
    List<String> sparsities, List<Row> rows) {

  /**
   * A tensor's line in the legend.
   *
   * @param color its stroke
   * @param dash its dash pattern, or null for a solid line
   * @param tensor its name
   * @param node the readable name of an anonymous tensor, or null
   */
  public record LegendItem(String color, String dash, String tensor, String node) {}

  /**
   * The plot near the baseline.
   *
   * @param range how far it reaches from the dense value
   * @param chart the plot
   */
  public record Zoom(String range, Content chart) {}

  /**
   * A tensor's row in the table.
   *
   * @param tensor its name
   * @param node the readable name of an anonymous tensor, or null
   * @param op its operator
   * @param parameters its parameters
   * @param cells one per swept sparsity
   */
  public record Row(String tensor, String node, String op, String parameters, List<Cell> cells) {}

  /**
   * A cell: the change from the dense value at one sparsity.
   *
   * @param cssClass {@code num}, its colour and {@code chosen} when allocated
   * @param sparsity the sparsity, exact
   * @param value the measured value, exact
   * @param title the value for people
   * @param text the change for people, "" when not measured
   */
  public record Cell(String cssClass, String sparsity, String value, String title, String text) {}

  static SensitivitySection of(ReportRun run) {
    MeasuredCurves curves = run.curves();
    if (curves == null || curves.curves().isEmpty()) {
      return new SensitivitySection(false, run.metric(), "", false, null, List.of(), false, null, false, List.of(),
          List.of());
    }
    String metric = run.metric();
    boolean higherIsBetter = run.decision().higherIsBetter();
    Map<String, Object> config = run.config();
    List<SvgCharts.Reference> refs = new ArrayList<>();
    double base = curves.baseline();
    double sign = higherIsBetter ? -1 : 1;
    Double maxDrop = run.maxDrop();
    refs.add(new SvgCharts.Reference("dense " + num(base), base, "baseline"));
    if (maxDrop != null) {
      refs.add(new SvgCharts.Reference("max-drop " + num(maxDrop), base + sign * maxDrop, "gate"));
    }
    Double tolerance = run.policy().equals("tolerance") && config.get("allocation.tolerance") instanceof Number n
        ? n.doubleValue() : null;
    if (tolerance != null) {
      refs.add(new SvgCharts.Reference("tolerance " + num(tolerance), base + sign * tolerance, "tolerance"));
    }
    MeasuredCurves before = run.previous() == null || run.previous().sensitivity() == null ? null
        : MeasuredCurves.of(run.previous().sensitivity(), metric);
    double lo = base;
    double hi = base;
    for (MeasuredCurves mc : before == null ? List.of(curves) : List.of(curves, before)) {
      for (MeasuredCurves.Curve c : mc.curves()) {
        for (double v : c.values()) {
          if (Double.isFinite(v)) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
          }
        }
      }
    }
    for (SvgCharts.Reference r : refs) {
      lo = Math.min(lo, r.value());
      hi = Math.max(hi, r.value());
    }
    double pad = hi > lo ? (hi - lo) * 0.04 : Math.max(Math.abs(base) * 0.01, 0.01);
    double[] full = {lo - pad, hi + pad};
    Content chart = markup(SvgCharts.sensitivity("sensitivity-chart", metric + " against sparsity, one line per tensor",
        curves, before, refs, full, 380));
    Zoom zoom = null;
    double band = Math.max(maxDrop == null ? 0 : maxDrop, tolerance == null ? 0 : tolerance);
    if (band > 0) {
      double[] range = higherIsBetter ? new double[] {base - 2.5 * band, base + band}
          : new double[] {base - band, base + 2.5 * band};
      if (range[0] > full[0] || range[1] < full[1]) {
        zoom = new Zoom(num(2.5 * band), markup(SvgCharts.sensitivity("sensitivity-zoom",
            metric + " near the dense baseline", curves, before, refs, range, 280)));
      }
    }
    List<LegendItem> legend = new ArrayList<>();
    for (int i = 0; i < curves.curves().size(); i++) {
      legend.add(new LegendItem(SvgCharts.color(i), SvgCharts.dash(i).isEmpty() ? null : SvgCharts.dash(i),
          curves.curves().get(i).tensor(), curves.curves().get(i).node()));
    }
    Map<String, Double> chosen = RunComparison.sparsities(run.tables().allocation());
    return new SensitivitySection(true, metric, String.valueOf(config.getOrDefault("sweep.criterion", "")),
        higherIsBetter, chart, List.copyOf(legend), before != null, zoom, !chosen.isEmpty(),
        Arrays.stream(curves.grid()).mapToObj(Html::percent).toList(), rows(run, curves, chosen));
  }

  private static List<Row> rows(ReportRun run, MeasuredCurves curves, Map<String, Double> chosen) {
    List<Row> rows = new ArrayList<>();
    for (MeasuredCurves.Curve c : curves.curves()) {
      Double pick = chosen.get(c.tensor());
      List<Cell> cells = new ArrayList<>();
      for (double s : curves.grid()) {
        double v = c.valueAt(s);
        String cls = "num " + run.heatClass(run.decision().drop(curves.baseline(), v))
            + (pick != null && pick == s ? " chosen" : "");
        cells.add(new Cell(cls, exact(s), exact(v), run.metric() + " " + num(v),
            Double.isNaN(v) ? "" : signed(v - curves.baseline())));
      }
      rows.add(new Row(c.tensor(), c.node(), c.op(), count(c.parameters()), List.copyOf(cells)));
    }
    return List.copyOf(rows);
  }
}
