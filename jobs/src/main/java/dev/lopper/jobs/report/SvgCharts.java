package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.attr;
import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.px;
import static dev.lopper.jobs.report.Html.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The report's plots as inline SVG, drawn in Java. Every plotted value is also carried by its SVG
 * element as data attributes ({@code data-tensor}, {@code data-sparsity}, {@code data-value}, ...)
 * in the exact form of the tables, so a test (or a curious reader) can check a plot against its
 * table. Each plot ends at its {@code </svg>}: the templates place it ({@link Html#markup}).
 */
final class SvgCharts {

  /** Tableau 10: distinct, readable on white, kind to colour-blind readers. */
  private static final String[] COLORS = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
      "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  /** After ten tensors the colours repeat with another dash pattern. */
  private static final String[] DASHES = {"", "6 3", "2 3", "8 3 2 3"};

  private SvgCharts() {}

  /** The colour of the {@code i}-th tensor. */
  static String color(int i) {
    return COLORS[i % COLORS.length];
  }

  /** The dash pattern of the {@code i}-th tensor ("" for a solid line). */
  static String dash(int i) {
    return DASHES[(i / COLORS.length) % DASHES.length];
  }

  /**
   * A horizontal reference line across a chart.
   *
   * @param label what it is, e.g. "gate max-drop 0.02"
   * @param value where, in the metric's units
   * @param cssClass {@code baseline}, {@code gate} or {@code tolerance}
   */
  record Reference(String label, double value, String cssClass) {}

  /**
   * The sensitivity chart: the decision metric against sparsity, one line per tensor starting from
   * the dense baseline at sparsity 0, a circle per measured point, reference lines, and the
   * previous run's curves dashed and pale when given.
   *
   * @param id the SVG element's id
   * @param curves the measured curves
   * @param previous the previous run's curves, or null
   * @param references baseline, gate and tolerance lines
   * @param yRange the value range shown, {lo, hi}; points outside are clipped
   * @param height the height in SVG units (the width is 760)
   */
  static String sensitivity(String id, String title, MeasuredCurves curves, MeasuredCurves previous,
      List<Reference> references, double[] yRange, int height) {
    Frame f = new Frame(760, height, 58, 150, 12, 40, 0, 1, yRange[0], yRange[1]);
    StringBuilder s = new StringBuilder();
    s.append("<svg").append(attr("id", id)).append(attr("class", "chart sensitivity-chart"))
        .append(attr("viewBox", "0 0 " + f.width + " " + f.height)).append(attr("role", "img"))
        .append(attr("aria-label", title)).append(attr("data-metric", curves.metric()))
        .append(attr("data-y-min", exact(yRange[0]))).append(attr("data-y-max", exact(yRange[1]))).append(">\n");
    s.append("<title>").append(text(title)).append("</title>\n");
    String clip = id + "-clip";
    s.append("<defs><clipPath").append(attr("id", clip)).append("><rect").append(attr("x", px(f.left - 4)))
        .append(attr("y", px(f.top - 4))).append(attr("width", px(f.plotWidth() + 8)))
        .append(attr("height", px(f.plotHeight() + 8))).append("/></clipPath></defs>\n");
    axes(s, f, "sparsity", curves.metric(), true);
    s.append("<g").append(attr("clip-path", "url(#" + clip + ")")).append(">\n");
    for (Reference r : references) {
      s.append("<line").append(attr("class", "reference " + r.cssClass())).append(attr("data-value", exact(r.value())))
          .append(attr("x1", px(f.x(0)))).append(attr("x2", px(f.x(1)))).append(attr("y1", px(f.y(r.value()))))
          .append(attr("y2", px(f.y(r.value())))).append("/>\n");
    }
    if (previous != null) {
      for (MeasuredCurves.Curve c : previous.curves()) {
        int i = indexOf(curves, c.tensor());
        s.append("<polyline").append(attr("class", "previous-curve")).append(attr("data-tensor", c.tensor()))
            .append(attr("stroke", color(Math.max(i, 0)))).append(attr("points", path(f, previous.baseline(), c)))
            .append("/>\n");
      }
    }
    for (int i = 0; i < curves.curves().size(); i++) {
      MeasuredCurves.Curve c = curves.curves().get(i);
      s.append("<polyline").append(attr("class", "curve")).append(attr("data-tensor", c.tensor()))
          .append(attr("stroke", color(i)));
      if (!dash(i).isEmpty()) {
        s.append(attr("stroke-dasharray", dash(i)));
      }
      s.append(attr("points", path(f, curves.baseline(), c))).append("/>\n");
    }
    point(s, f, MeasuredCurves.BASELINE, 0.0, curves.baseline(), "#1d2330", "dense baseline");
    for (int i = 0; i < curves.curves().size(); i++) {
      MeasuredCurves.Curve c = curves.curves().get(i);
      for (int k = 0; k < c.sparsities().length; k++) {
        point(s, f, c.tensor(), c.sparsities()[k], c.values()[k], color(i), c.label());
      }
    }
    s.append("</g>\n");
    // Labels of the reference lines, in the right margin, outside the clip, pushed apart when close.
    List<Reference> shown = new ArrayList<>(references.stream()
        .filter(r -> r.value() >= yRange[0] && r.value() <= yRange[1]).toList());
    shown.sort((a, b) -> Double.compare(f.y(a.value()), f.y(b.value())));
    double lastY = Double.NEGATIVE_INFINITY;
    for (Reference r : shown) {
      double y = Math.max(f.y(r.value()) + 4, lastY + 13);
      lastY = y;
      s.append("<text").append(attr("class", "reference-label " + r.cssClass())).append(attr("x", px(f.x(1) + 6)))
          .append(attr("y", px(y))).append(">").append(text(r.label())).append("</text>\n");
    }
    s.append("</svg>");
    return s.toString();
  }

  private static int indexOf(MeasuredCurves curves, String tensor) {
    for (int i = 0; i < curves.curves().size(); i++) {
      if (curves.curves().get(i).tensor().equals(tensor)) {
        return i;
      }
    }
    return -1;
  }

  private static String path(Frame f, double baseline, MeasuredCurves.Curve c) {
    StringBuilder p = new StringBuilder();
    if (Double.isFinite(baseline)) {
      p.append(px(f.x(0))).append(',').append(px(f.y(baseline)));
    }
    for (int k = 0; k < c.sparsities().length; k++) {
      if (Double.isFinite(c.values()[k])) {
        p.append(p.length() == 0 ? "" : " ").append(px(f.x(c.sparsities()[k]))).append(',')
            .append(px(f.y(c.values()[k])));
      }
    }
    return p.toString();
  }

  private static void point(StringBuilder s, Frame f, String tensor, double sparsity, double value, String color,
      String label) {
    if (!Double.isFinite(value)) {
      return;
    }
    s.append("<circle").append(attr("class", tensor.equals(MeasuredCurves.BASELINE) ? "point baseline-point" : "point"))
        .append(attr("data-tensor", tensor)).append(attr("data-sparsity", exact(sparsity)))
        .append(attr("data-value", exact(value))).append(attr("cx", px(f.x(sparsity))))
        .append(attr("cy", px(f.y(value)))).append(attr("r", "3.2")).append(attr("fill", color)).append(">")
        .append("<title>").append(text(label + " at " + Html.percent(sparsity) + ": " + num(value))).append("</title>")
        .append("</circle>\n");
  }

  /**
   * A horizontal bar in a table cell: {@code fraction} of the width filled, grid ticks every 10%,
   * and an optional marker (e.g. the overall target).
   */
  static String fractionBar(String cssClass, Map<String, String> data, double fraction, double marker,
      String color) {
    int w = 240;
    int h = 16;
    StringBuilder s = new StringBuilder("<svg").append(attr("class", "bar " + cssClass));
    data.forEach((k, v) -> s.append(attr(k, v)));
    s.append(attr("width", w)).append(attr("height", h)).append(attr("viewBox", "0 0 " + w + " " + h)).append(">");
    s.append("<rect").append(attr("class", "track")).append(attr("width", w)).append(attr("height", h)).append("/>");
    double width = Double.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) * w : 0;
    s.append("<rect").append(attr("class", "fill")).append(attr("width", px(width))).append(attr("height", h))
        .append(attr("fill", color)).append("/>");
    for (int t = 1; t < 10; t++) {
      s.append("<line").append(attr("class", "tick")).append(attr("x1", t * w / 10)).append(attr("x2", t * w / 10))
          .append(attr("y1", h - 3)).append(attr("y2", h)).append("/>");
    }
    if (Double.isFinite(marker)) {
      s.append("<line").append(attr("class", "marker")).append(attr("x1", px(marker * w)))
          .append(attr("x2", px(marker * w))).append(attr("y1", 0)).append(attr("y2", h)).append("/>");
    }
    s.append("</svg>");
    return s.toString();
  }

  /**
   * A stacked bar whose length is {@code parameters / maxParameters} of the width: the kept part
   * dark, the pruned part pale.
   */
  static String densityBar(Map<String, String> data, long parameters, long kept, long maxParameters) {
    int w = 240;
    int h = 16;
    double total = maxParameters <= 0 ? 0 : (double) parameters / maxParameters * w;
    double keptWidth = parameters <= 0 ? 0 : total * kept / parameters;
    StringBuilder s = new StringBuilder("<svg").append(attr("class", "bar density-bar"));
    data.forEach((k, v) -> s.append(attr(k, v)));
    s.append(attr("width", w)).append(attr("height", h)).append(attr("viewBox", "0 0 " + w + " " + h)).append(">");
    s.append("<rect").append(attr("class", "pruned-part")).append(attr("width", px(total))).append(attr("height", h))
        .append("/>");
    s.append("<rect").append(attr("class", "kept-part")).append(attr("width", px(keptWidth))).append(attr("height", h))
        .append("/>");
    s.append("</svg>");
    return s.toString();
  }

  /** Wall-clock time per stage as horizontal bars, longest stage the full width. */
  static String timings(Map<String, Long> millis) {
    int rowHeight = 20;
    int labelWidth = 110;
    int w = 560;
    int h = Math.max(1, millis.size()) * rowHeight + 4;
    long max = millis.values().stream().mapToLong(Long::longValue).max().orElse(1);
    StringBuilder s = new StringBuilder("<svg").append(attr("id", "timings-chart")).append(attr("class", "chart"))
        .append(attr("viewBox", "0 0 " + w + " " + h)).append(attr("style", "max-width:" + w + "px")).append(">\n");
    int row = 0;
    for (Map.Entry<String, Long> e : millis.entrySet()) {
      double y = row * rowHeight + 2;
      double bar = max <= 0 ? 0 : (double) e.getValue() / max * (w - labelWidth - 70);
      s.append("<text").append(attr("x", labelWidth - 6)).append(attr("y", px(y + 13)))
          .append(attr("text-anchor", "end")).append(">").append(text(e.getKey())).append("</text>");
      s.append("<rect").append(attr("class", "timing")).append(attr("data-stage", e.getKey()))
          .append(attr("data-millis", e.getValue())).append(attr("x", labelWidth)).append(attr("y", px(y + 2)))
          .append(attr("width", px(Math.max(bar, 1)))).append(attr("height", rowHeight - 6)).append("/>");
      s.append("<text").append(attr("x", px(labelWidth + bar + 6))).append(attr("y", px(y + 13))).append(">")
          .append(text(seconds(e.getValue()))).append("</text>\n");
      row++;
    }
    s.append("</svg>");
    return s.toString();
  }

  /** "0.12 s", "20.7 s", "3 min 05 s". */
  static String seconds(long millis) {
    if (millis < 60_000) {
      return millis < 10_000 ? String.format(java.util.Locale.ROOT, "%.2f s", millis / 1000.0)
          : String.format(java.util.Locale.ROOT, "%.1f s", millis / 1000.0);
    }
    long s = Math.round(millis / 1000.0);
    return String.format(java.util.Locale.ROOT, "%d min %02d s", s / 60, s % 60);
  }

  /** Axes, grid and tick labels of a frame. */
  private static void axes(StringBuilder s, Frame f, String xLabel, String yLabel, boolean xAsPercent) {
    s.append("<g class=\"axes\">\n");
    for (double t : ticks(f.yLo, f.yHi)) {
      s.append("<line").append(attr("class", "grid")).append(attr("x1", px(f.left))).append(attr("x2", px(f.x(1))))
          .append(attr("y1", px(f.y(t)))).append(attr("y2", px(f.y(t)))).append("/>");
      s.append("<text").append(attr("x", px(f.left - 6))).append(attr("y", px(f.y(t) + 4)))
          .append(attr("text-anchor", "end")).append(">").append(text(num(t))).append("</text>\n");
    }
    for (int i = 0; i <= 10; i++) {
      double t = i / 10.0;
      s.append("<line").append(attr("class", "grid")).append(attr("x1", px(f.x(t)))).append(attr("x2", px(f.x(t))))
          .append(attr("y1", px(f.top))).append(attr("y2", px(f.top + f.plotHeight()))).append("/>");
      s.append("<text").append(attr("x", px(f.x(t)))).append(attr("y", px(f.top + f.plotHeight() + 15)))
          .append(attr("text-anchor", "middle")).append(">").append(xAsPercent ? (i * 10) + "%" : num(t))
          .append("</text>\n");
    }
    s.append("<rect").append(attr("class", "frame")).append(attr("x", px(f.left))).append(attr("y", px(f.top)))
        .append(attr("width", px(f.plotWidth()))).append(attr("height", px(f.plotHeight()))).append("/>\n");
    s.append("<text").append(attr("class", "axis-label")).append(attr("x", px(f.left + f.plotWidth() / 2)))
        .append(attr("y", px(f.height - 4))).append(attr("text-anchor", "middle")).append(">").append(text(xLabel))
        .append("</text>\n");
    s.append("<text").append(attr("class", "axis-label")).append(attr("transform", "rotate(-90)"))
        .append(attr("x", px(-(f.top + f.plotHeight() / 2)))).append(attr("y", 14))
        .append(attr("text-anchor", "middle")).append(">").append(text(yLabel)).append("</text>\n");
    s.append("</g>\n");
  }

  /** About five round tick values within [lo, hi]. */
  static List<Double> ticks(double lo, double hi) {
    List<Double> out = new ArrayList<>();
    if (!(hi > lo) || !Double.isFinite(lo) || !Double.isFinite(hi)) {
      return out;
    }
    double raw = (hi - lo) / 5;
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = magnitude;
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (raw <= m * magnitude) {
        step = m * magnitude;
        break;
      }
    }
    for (double t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.add(Math.abs(t) < step * 1e-9 ? 0.0 : t);
    }
    return out;
  }

  /** A plot area inside an SVG of {@code width x height}, mapping data to SVG coordinates. */
  private record Frame(int width, int height, double left, double right, double top, double bottom, double xLo,
      double xHi, double yLo, double yHi) {

    double plotWidth() {
      return width - left - right;
    }

    double plotHeight() {
      return height - top - bottom;
    }

    double x(double v) {
      return left + (v - xLo) / (xHi - xLo) * plotWidth();
    }

    double y(double v) {
      return top + (yHi - v) / (yHi - yLo) * plotHeight();
    }
  }
}
