package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.attr;
import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.percent;
import static dev.lopper.jobs.report.Html.signed;
import static dev.lopper.jobs.report.Html.text;

import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.OutputFile;
import dev.lopper.jobs.output.RunDirectory;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.output.RunStatus;
import dev.lopper.jobs.verify.VerificationRow;
import dev.lopper.mask.MaskSummaryRow;
import dev.lopper.metrics.MetricValues;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.fs.Path;

/**
 * {@code report.html}: one self-contained page per run that a person opens in a browser — no
 * scripts, no network, plots as inline SVG. Sections: summary, change from the previous run (for
 * runs named by date), sensitivity curves and table, allocation, density per tensor, verification
 * and the gate, and the run's record (inputs with checksums, configuration, timings, Spark
 * application, versions).
 *
 * <p>The page is rendered from the manifest (before commit) and the tables the run wrote, read back
 * from their Parquet files, so it shows exactly what the run directory holds.
 *
 * <pre>{@code
 * HtmlReport.write(dir, manifest.build());   // before dir.commit(...)
 * }</pre>
 */
public final class HtmlReport {

  /** The report's file name in a run directory. */
  public static final String FILE = "report.html";

  private HtmlReport() {}

  /** Renders the report of the run being written in {@code dir} and writes it as {@value #FILE}. */
  public static void write(RunDirectory dir, Manifest manifest) {
    RunTables tables = RunTables.read(dir.workPath(), dir.conf());
    RunTables previous = manifest.previousRun() == null ? null : RunTables.read(manifest.previousRun(), dir.conf());
    List<String> files = dir.outputs().stream().map(OutputFile::path).toList();
    byte[] page = render(manifest, tables, previous, files).getBytes(StandardCharsets.UTF_8);
    HadoopFiles.writeAtomically(dir.file(FILE), dir.conf(), out -> out.write(page));
  }

  /**
   * The page.
   *
   * @param manifest the run's manifest, before commit
   * @param tables the tables the run wrote
   * @param previous the previous run's tables ({@link Manifest#previousRun()}), or null
   * @param files the files in the run directory, relative, for links
   */
  static String render(Manifest manifest, RunTables tables, RunTables previous, List<String> files) {
    return new Page(manifest, tables, previous, files).render();
  }

  /** One rendering: the run's figures and the page being written. */
  private static final class Page {
    private final Manifest m;
    private final RunTables t;
    private final RunTables previous;
    private final List<String> files;
    private final String metric;
    private final DecisionMetric decision;
    private final Double maxDrop;
    private final String policy;
    private final Map<String, Object> config;
    private final MeasuredCurves curves;
    private final StringBuilder out = new StringBuilder(64 * 1024);

    Page(Manifest m, RunTables t, RunTables previous, List<String> files) {
      this.m = m;
      this.t = t;
      this.previous = previous;
      this.files = files;
      this.config = RunComparison.flatten(m.configuration());
      this.metric = String.valueOf(config.getOrDefault("metric", "accuracy"));
      this.decision = DecisionMetric.fromName(metric);
      this.maxDrop = config.get("gate.max-drop") instanceof Number n ? n.doubleValue() : null;
      this.policy = String.valueOf(config.getOrDefault("allocation.policy", ""));
      this.curves = t.sensitivity() == null ? null : MeasuredCurves.of(t.sensitivity(), metric);
    }

    private boolean isPrune() {
      return "prune".equals(m.command());
    }

    String render() {
      String name = m.output() == null ? m.runId() : new Path(m.output()).getName();
      out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
          .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
          .append("<meta name=\"generator\" content=\"Lopper\"/>\n")
          .append("<title>").append(text("Lopper report: " + m.command() + " " + name)).append("</title>\n")
          .append("<style>\n").append(CSS).append("</style>\n</head>\n<body>\n<main>\n");
      header(name);
      nav();
      summary();
      if (m.previousRun() != null && !m.comparison().isEmpty()) {
        comparison();
      }
      sensitivity();
      if (t.allocation() != null) {
        allocation();
      }
      if (t.masks() != null) {
        density();
      }
      if (t.verification() != null || m.gate() != null) {
        verification();
      }
      runRecord();
      out.append("<footer>Written by Lopper ").append(text(m.versions().getOrDefault("lopper", "")))
          .append(" for run ").append(text(m.runId())).append(". Tables: ");
      List<String> csv = files.stream().filter(f -> f.endsWith(".csv")).toList();
      for (int i = 0; i < csv.size(); i++) {
        out.append(i == 0 ? "" : ", ").append("<a").append(attr("href", csv.get(i))).append(">")
            .append(text(csv.get(i))).append("</a>");
      }
      out.append("; record: <a href=\"manifest.json\">manifest.json</a>.</footer>\n");
      out.append("</main>\n</body>\n</html>\n");
      return out.toString();
    }

    private void header(String name) {
      out.append("<header>\n<div>\n<h1>Lopper ").append(text(m.command())).append(" report</h1>\n")
          .append("<div class=\"sub mono\">").append(text(m.output())).append("</div>\n</div>\n");
      out.append(badge(m.status())).append("\n</header>\n");
    }

    private String badge(RunStatus status) {
      boolean ok = status != RunStatus.FAILED_GATE;
      return "<span" + attr("id", "status") + attr("class", "badge " + (ok ? "ok" : "fail")) + ">"
          + text(status == null ? "UNKNOWN" : status.name()) + "</span>";
    }

    private void nav() {
      out.append("<nav>");
      link("summary", "Summary");
      if (m.previousRun() != null && !m.comparison().isEmpty()) {
        link("comparison", "Change from previous run");
      }
      link("sensitivity", "Sensitivity");
      if (t.allocation() != null) {
        link("allocation", "Allocation");
      }
      if (t.masks() != null) {
        link("density", "Density");
      }
      if (t.verification() != null || m.gate() != null) {
        link("verification", "Verification");
      }
      link("run", "Run");
      out.append("</nav>\n");
    }

    private void link(String id, String label) {
      out.append("<a").append(attr("href", "#" + id)).append(">").append(text(label)).append("</a>");
    }

    // ---- summary ----

    private void summary() {
      Map<String, Object> r = m.results();
      out.append("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n");
      GateVerdict gate = m.gate();
      if (gate != null) {
        card("Quality gate", gate.passed() ? "passed" : "FAILED", gate.describe(), gate.passed() ? "ok" : "fail");
      }
      Optional<RunResults.Verified> verified = RunResults.read(r, RunResults.Verified.class);
      RunResults.Metrics dense = verified.map(RunResults.Verified::dense)
          .or(() -> RunResults.read(r, RunResults.Sweep.class).map(RunResults.Sweep::dense)).orElse(null);
      double denseValue = dense == null || Double.isNaN(dense.value(metric))
          ? (curves == null ? Double.NaN : curves.baseline()) : dense.value(metric);
      if (isPrune() && verified.isPresent()) {
        RunResults.Metrics pruned = verified.get().pruned();
        card(metric + ", dense → pruned", num(denseValue) + " → " + num(pruned.value(metric)),
            "verified on " + count(pruned.samples()) + " rows", "");
      } else {
        card(metric + ", dense", num(denseValue), "the baseline of the sweep", "");
      }
      RunResults.read(r, RunResults.Masks.class).ifPresent(masks -> card("Overall sparsity",
          percent(masks.sparsity()), count(masks.prunedParameters()) + " of " + count(masks.parameters())
              + " prunable parameters pruned", ""));
      verified.ifPresent(v -> card("Drop, predicted / measured", signed(v.predictedDrop()) + " / "
          + signed(v.measuredDrop()), "policy " + policy
          + (policy.equals("tolerance") ? ", tolerance " + config.get("allocation.tolerance")
              : ", target " + config.get("allocation.target")), ""));
      RunResults.Data data = RunResults.read(r, RunResults.Data.class).orElse(null);
      if (curves != null) {
        card("Sweep", curves.curves().size() + " tensors × " + curves.grid().length + " sparsities",
            "criterion " + config.getOrDefault("sweep.criterion", "") + ", " + count(data == null ? 0 : data.rows())
                + " rows in " + (data == null ? 0 : data.partitions()) + " partitions", "");
      }
      if (m.previousRun() != null && m.comparison().get(isPrune() ? "pruned" : "dense") instanceof Map<?, ?> c
          && c.get(metric) instanceof Map<?, ?> change) {
        card("Since previous run", signed(number(change.get("change"), Double.NaN)),
            metric + (isPrune() ? " of the pruned model" : " of the dense model") + " vs "
                + new Path(m.previousRun()).getName(), "");
      }
      out.append("</div>\n</section>\n");
    }

    private void card(String label, String value, String detail, String cssClass) {
      out.append("<div").append(attr("class", "card " + cssClass)).append("><div class=\"label\">").append(text(label))
          .append("</div><div class=\"value\">").append(text(value)).append("</div><div class=\"detail\">")
          .append(text(detail)).append("</div></div>\n");
    }

    // ---- comparison with the previous run ----

    private void comparison() {
      Map<String, Object> c = m.comparison();
      String prev = m.previousRun();
      out.append("<section id=\"comparison\">\n<h2>Change from the previous run</h2>\n<p>Previous run: ");
      String href = previousHref(prev);
      if (href != null) {
        out.append("<a").append(attr("href", href)).append(attr("class", "mono")).append(">").append(text(prev))
            .append("</a>");
      } else {
        out.append("<span class=\"mono\">").append(text(prev)).append("</span>");
      }
      out.append(" (run ").append(text(c.get("previous_run_id"))).append(", started ")
          .append(text(c.get("previous_started"))).append(", ").append(text(c.get("previous_status")))
          .append("). Changes are this run minus the previous one; every figure is in the manifest's ")
          .append("<code>comparison</code>.</p>\n");

      out.append("<table class=\"compact\" id=\"comparison-figures\">\n<tr><th>figure</th><th class=\"num\">previous</th>")
          .append("<th class=\"num\">this run</th><th class=\"num\">change</th></tr>\n");
      for (String side : List.of("dense", "pruned")) {
        if (c.get(side) instanceof Map<?, ?> metrics) {
          for (Map.Entry<?, ?> e : metrics.entrySet()) {
            // The decision metric, loss and the divergence from the dense outputs; the manifest has them all.
            boolean shown = e.getKey().equals(metric) || e.getKey().equals("loss") || e.getKey().equals("kl");
            if (shown && e.getValue() instanceof Map<?, ?> v) {
              figureRow(side + " " + e.getKey(), v, e.getKey().equals(metric));
            }
          }
        }
      }
      if (c.get("sparsity") instanceof Map<?, ?> v) {
        figureRow("overall sparsity", v, true);
      }
      if (c.get("pruned_parameters") instanceof Map<?, ?> v) {
        figureRow("pruned parameters", v, false);
      }
      if (c.get("gate") instanceof Map<?, ?> g) {
        out.append("<tr class=\"key\"><td>quality gate</td><td class=\"num\">")
            .append(Boolean.TRUE.equals(g.get("previous_passed")) ? "passed" : "FAILED")
            .append("</td><td class=\"num\">").append(Boolean.TRUE.equals(g.get("current_passed")) ? "passed" : "FAILED")
            .append("</td><td></td></tr>\n");
      }
      out.append("</table>\n");

      out.append("<h3>Inputs</h3>\n");
      List<?> inputs = c.get("inputs_changed") instanceof List<?> l ? l : List.of();
      if (inputs.isEmpty()) {
        out.append("<p>Same model, weights and data (identical SHA-256).</p>\n");
      } else {
        out.append("<table class=\"compact\" id=\"inputs-changed\"><tr><th>input</th><th>previous</th><th>this run</th></tr>\n");
        for (Object o : inputs) {
          Map<?, ?> i = (Map<?, ?>) o;
          out.append("<tr><td>").append(text(i.get("role"))).append("</td><td class=\"mono\">")
              .append(text(i.get("previous_path"))).append("<br/>").append(text(shortSha(i.get("previous_sha256"))))
              .append("</td><td class=\"mono\">").append(text(i.get("path"))).append("<br/>")
              .append(text(shortSha(i.get("sha256")))).append("</td></tr>\n");
        }
        out.append("</table>\n");
      }
      out.append("<h3>Configuration</h3>\n");
      List<?> keys = c.get("configuration_changed") instanceof List<?> l ? l : List.of();
      if (keys.isEmpty()) {
        out.append("<p>Same configuration (apart from <code>output.*</code>).</p>\n");
      } else {
        out.append("<table class=\"compact\" id=\"configuration-changed\"><tr><th>key</th><th>previous</th>")
            .append("<th>this run</th></tr>\n");
        for (Object o : keys) {
          Map<?, ?> k = (Map<?, ?>) o;
          out.append("<tr><td class=\"mono\">").append(text(k.get("key"))).append("</td><td class=\"mono\">")
              .append(text(k.get("previous"))).append("</td><td class=\"mono\">").append(text(k.get("current")))
              .append("</td></tr>\n");
        }
        out.append("</table>\n");
      }
      tensorChanges(c);
      out.append("</section>\n");
    }

    private void figureRow(String label, Map<?, ?> v, boolean key) {
      out.append("<tr").append(key ? attr("class", "key") : "").append(attr("data-figure", label)).append("><td>")
          .append(text(label)).append("</td><td class=\"num\">").append(text(num(number(v.get("previous"), Double.NaN))))
          .append("</td><td class=\"num\">").append(text(num(number(v.get("current"), Double.NaN))))
          .append("</td><td class=\"num\">").append(text(signed(number(v.get("change"), Double.NaN))))
          .append("</td></tr>\n");
    }

    private void tensorChanges(Map<String, Object> c) {
      if (!(c.get("tensors") instanceof List<?> tensors) || !(c.get("sparsities") instanceof List<?> grid)) {
        return;
      }
      out.append("<h3>Sensitivity per tensor</h3>\n<p>Change of ").append(text(metric))
          .append(" at each swept sparsity (this run minus previous); the allocated sparsities before and after.</p>\n")
          .append("<div class=\"scroll\"><table class=\"heat\" id=\"tensor-changes\">\n<tr><th>tensor</th>")
          .append("<th class=\"num\">sparsity</th>");
      for (Object s : grid) {
        out.append("<th class=\"num\">").append(percent(number(s, Double.NaN))).append("</th>");
      }
      out.append("<th class=\"num\">max |change|</th></tr>\n");
      for (Object o : tensors) {
        Map<?, ?> e = (Map<?, ?>) o;
        String tensor = String.valueOf(e.get("tensor"));
        out.append("<tr").append(attr("data-tensor", tensor)).append("><td class=\"tensor\">").append(text(tensor))
            .append("</td><td class=\"num\">").append(percent(number(e.get("previous_sparsity"), Double.NaN)))
            .append(" → ").append(percent(number(e.get("sparsity"), Double.NaN))).append("</td>");
        List<?> changes = e.get("changes") instanceof List<?> l ? l : List.of();
        for (int i = 0; i < grid.size(); i++) {
          double change = i < changes.size() ? number(changes.get(i), Double.NaN) : Double.NaN;
          double worse = Double.isNaN(change) ? Double.NaN : (decision.higherIsBetter() ? -change : change);
          out.append("<td").append(attr("class", "num " + heatClass(worse)))
              .append(attr("data-sparsity", exact(number(grid.get(i), Double.NaN))))
              .append(attr("data-change", exact(change))).append(">").append(text(signed(change))).append("</td>");
        }
        out.append("<td class=\"num\">").append(text(num(number(e.get("max_abs_change"), Double.NaN))))
            .append("</td></tr>\n");
      }
      out.append("</table></div>\n");
    }

    private String previousHref(String prev) {
      if (m.output() == null) {
        return null;
      }
      Path p = new Path(prev);
      Path current = new Path(m.output());
      if (p.getParent() != null && current.getParent() != null
          && p.getParent().toUri().getPath().equals(current.getParent().toUri().getPath())) {
        return "../" + p.getName() + "/" + FILE;
      }
      return null;
    }

    // ---- sensitivity ----

    private void sensitivity() {
      out.append("<section id=\"sensitivity\">\n<h2>Sensitivity</h2>\n");
      if (curves == null || curves.curves().isEmpty()) {
        out.append("<p>This run wrote no sensitivity table.</p>\n</section>\n");
        return;
      }
      out.append("<p>").append(text(metric)).append(" of the model with one tensor pruned at a time, against that tensor's ")
          .append("sparsity (").append(text(String.valueOf(config.getOrDefault("sweep.criterion", "")))).append(" criterion). ")
          .append(decision.higherIsBetter() ? "Higher is better" : "Lower is better")
          .append("; every line starts at the dense baseline. A tensor whose line stays flat can lose most of its weights.</p>\n");
      List<SvgCharts.Reference> refs = new ArrayList<>();
      double base = curves.baseline();
      double sign = decision.higherIsBetter() ? -1 : 1;
      refs.add(new SvgCharts.Reference("dense " + num(base), base, "baseline"));
      if (maxDrop != null) {
        refs.add(new SvgCharts.Reference("max-drop " + num(maxDrop), base + sign * maxDrop, "gate"));
      }
      Double tolerance = policy.equals("tolerance") && config.get("allocation.tolerance") instanceof Number n
          ? n.doubleValue() : null;
      if (tolerance != null) {
        refs.add(new SvgCharts.Reference("tolerance " + num(tolerance), base + sign * tolerance, "tolerance"));
      }
      MeasuredCurves before = previous == null || previous.sensitivity() == null ? null
          : MeasuredCurves.of(previous.sensitivity(), metric);
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
      out.append(SvgCharts.sensitivity("sensitivity-chart", metric + " against sparsity, one line per tensor",
          curves, before, refs, full, 380));
      legend(before != null);
      double band = Math.max(maxDrop == null ? 0 : maxDrop, tolerance == null ? 0 : tolerance);
      if (band > 0) {
        double[] zoom = decision.higherIsBetter() ? new double[] {base - 2.5 * band, base + band}
            : new double[] {base - band, base + 2.5 * band};
        if (zoom[0] > full[0] || zoom[1] < full[1]) {
          out.append("<h3>Near the baseline</h3>\n<p>The same curves, zoomed to ").append(text(num(2.5 * band)))
              .append(" around the dense value; points beyond are cut off.</p>\n");
          out.append(SvgCharts.sensitivity("sensitivity-zoom", metric + " near the dense baseline", curves, before,
              refs, zoom, 280));
        }
      }
      heatTable();
      out.append("</section>\n");
    }

    private void legend(boolean withPrevious) {
      out.append("<div class=\"legend\">");
      for (int i = 0; i < curves.curves().size(); i++) {
        MeasuredCurves.Curve c = curves.curves().get(i);
        out.append("<span class=\"item\"><svg width=\"22\" height=\"8\"><line x1=\"0\" y1=\"4\" x2=\"22\" y2=\"4\"")
            .append(attr("stroke", SvgCharts.color(i))).append(" stroke-width=\"2.5\"")
            .append(SvgCharts.dash(i).isEmpty() ? "" : attr("stroke-dasharray", SvgCharts.dash(i)))
            .append("/></svg>").append(text(c.tensor())).append("</span>");
      }
      if (withPrevious) {
        out.append("<span class=\"item muted\"><svg width=\"22\" height=\"8\"><line x1=\"0\" y1=\"4\" x2=\"22\" y2=\"4\" ")
            .append("stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\" opacity=\"0.6\"/></svg>previous run</span>");
      }
      out.append("</div>\n");
    }

    private void heatTable() {
      double[] grid = curves.grid();
      Map<String, Double> chosen = allocated();
      out.append("<h3>Change from the dense model</h3>\n<p>").append(text(metric))
          .append(" minus the dense value; green: no worse, yellow: worse but within the gate's max-drop, red: beyond it")
          .append(chosen.isEmpty() ? "" : "; outlined: the allocated sparsity").append(".</p>\n")
          .append("<div class=\"scroll\"><table class=\"heat\" id=\"sensitivity-table\">\n<tr><th>tensor</th><th>op</th>")
          .append("<th class=\"num\">parameters</th>");
      for (double s : grid) {
        out.append("<th class=\"num\">").append(percent(s)).append("</th>");
      }
      out.append("</tr>\n");
      for (MeasuredCurves.Curve c : curves.curves()) {
        out.append("<tr").append(attr("data-tensor", c.tensor())).append("><td class=\"tensor\">").append(text(c.tensor()))
            .append("</td><td>").append(text(c.op())).append("</td><td class=\"num\">").append(count(c.parameters()))
            .append("</td>");
        Double pick = chosen.get(c.tensor());
        for (double s : grid) {
          double v = c.valueAt(s);
          double change = v - curves.baseline();
          String cls = "num " + heatClass(decision.drop(curves.baseline(), v))
              + (pick != null && pick == s ? " chosen" : "");
          out.append("<td").append(attr("class", cls)).append(attr("data-sparsity", exact(s)))
              .append(attr("data-value", exact(v))).append(attr("title", metric + " " + num(v))).append(">")
              .append(Double.isNaN(v) ? "" : text(signed(change))).append("</td>");
        }
        out.append("</tr>\n");
      }
      out.append("</table></div>\n");
    }

    /** Cell colour by how much worse: none, within the gate, beyond it. */
    private String heatClass(double worse) {
      if (Double.isNaN(worse)) {
        return "na";
      }
      double limit = maxDrop != null && maxDrop > 0 ? maxDrop : 0.01;
      if (worse <= 1e-12) {
        return "good";
      }
      if (worse <= limit) {
        return "warn";
      }
      return worse <= 5 * limit ? "bad" : "worst";
    }

    private Map<String, Double> allocated() {
      return RunComparison.sparsities(t.allocation());
    }

    // ---- allocation and density ----

    private void allocation() {
      List<TensorAllocation> a = t.allocation();
      double target = number(config.get("allocation.target"), Double.NaN);
      boolean targeted = !policy.equals("tolerance");
      Map<String, Object> prevSparsity = new LinkedHashMap<>();
      if (m.comparison().get("tensors") instanceof List<?> list) {
        for (Object o : list) {
          Map<?, ?> e = (Map<?, ?>) o;
          prevSparsity.put(String.valueOf(e.get("tensor")), e.get("previous_sparsity"));
        }
      }
      boolean withPrevious = !prevSparsity.isEmpty();
      out.append("<section id=\"allocation\">\n<h2>Allocation</h2>\n<p>The sparsity policy <b>").append(text(policy))
          .append("</b> chose per tensor").append(targeted ? " (the dashed mark: the overall target " + percent(target)
              + ")" : "").append(". Predicted drop: from the tensor's curve at that sparsity.</p>\n");
      out.append("<table id=\"allocation-table\">\n<tr><th>tensor</th><th class=\"num\">parameters</th>")
          .append("<th>sparsity</th><th class=\"num\"></th><th class=\"num\">pruned</th><th class=\"num\">predicted drop</th>")
          .append(withPrevious ? "<th class=\"num\">previous run</th>" : "").append("</tr>\n");
      long parameters = 0;
      long pruned = 0;
      for (TensorAllocation row : a) {
        String tensor = orEmpty(row.tensor());
        long params = row.parameters();
        long p = row.pruned();
        double sparsity = row.sparsity();
        double predicted = row.predictedDrop();
        parameters += params;
        pruned += p;
        Map<String, String> data = new LinkedHashMap<>();
        data.put("data-tensor", tensor);
        data.put("data-sparsity", exact(sparsity));
        data.put("data-parameters", Long.toString(params));
        data.put("data-pruned", Long.toString(p));
        data.put("data-predicted-drop", exact(predicted));
        out.append("<tr><td class=\"tensor\">").append(text(tensor)).append("</td><td class=\"num\">").append(count(params))
            .append("</td><td>").append(SvgCharts.fractionBar("alloc-bar", data, sparsity, targeted ? target : Double.NaN,
                "#4e79a7"))
            .append("</td><td class=\"num\">").append(percent(sparsity)).append("</td><td class=\"num\">").append(count(p))
            .append(" / ").append(count(params)).append("</td><td class=\"num\">").append(text(signed(predicted)))
            .append("</td>");
        if (withPrevious) {
          out.append("<td class=\"num\">").append(percent(number(prevSparsity.get(tensor), Double.NaN))).append("</td>");
        }
        out.append("</tr>\n");
      }
      out.append("<tr class=\"total\"><td>all prunable tensors</td><td class=\"num\">").append(count(parameters))
          .append("</td><td></td><td class=\"num\">").append(percent(parameters == 0 ? Double.NaN : (double) pruned / parameters))
          .append("</td><td class=\"num\">").append(count(pruned)).append(" / ").append(count(parameters))
          .append("</td><td class=\"num\">").append(text(signed(RunResults.read(m.results(), RunResults.Verified.class)
              .map(RunResults.Verified::predictedDrop).orElse(Double.NaN))))
          .append("</td>").append(withPrevious ? "<td></td>" : "").append("</tr>\n</table>\n</section>\n");
    }

    private void density() {
      List<MaskSummaryRow> k = t.masks();
      long max = 0;
      for (MaskSummaryRow row : k) {
        max = Math.max(max, row.parameters());
      }
      out.append("<section id=\"density\">\n<h2>Density per tensor</h2>\n<p>The weights the mask keeps (dark) and prunes ")
          .append("(pale); a bar's length is the tensor's share of parameters, the largest tensor the full width.</p>\n")
          .append("<table id=\"density-table\">\n<tr><th>tensor</th><th>shape</th><th>kept / pruned</th>")
          .append("<th class=\"num\">density</th><th class=\"num\">kept</th></tr>\n");
      for (MaskSummaryRow row : k) {
        String tensor = orEmpty(row.tensor());
        long params = row.parameters();
        long kept = row.kept();
        double density = row.density();
        Map<String, String> data = new LinkedHashMap<>();
        data.put("data-tensor", tensor);
        data.put("data-parameters", Long.toString(params));
        data.put("data-kept", Long.toString(kept));
        data.put("data-density", exact(density));
        out.append("<tr><td class=\"tensor\">").append(text(tensor)).append("</td><td class=\"mono\">")
            .append(text(dimensions(row.shape()))).append("</td><td>")
            .append(SvgCharts.densityBar(data, params, kept, max)).append("</td><td class=\"num\">").append(percent(density))
            .append("</td><td class=\"num\">").append(count(kept)).append(" / ").append(count(params)).append("</td></tr>\n");
      }
      out.append("</table>\n</section>\n");
    }

    // ---- verification ----

    private void verification() {
      out.append("<section id=\"verification\">\n<h2>Verification and quality gate</h2>\n");
      GateVerdict gate = m.gate();
      if (gate != null) {
        out.append("<div").append(attr("id", "gate")).append(attr("class", "verdict " + (gate.passed() ? "ok" : "fail")))
            .append(attr("data-passed", gate.passed())).append(attr("data-drop", exact(gate.drop()))).append(">")
            .append("Quality gate ").append(gate.passed() ? "passed" : "FAILED").append(": ").append(text(gate.describe()))
            .append("</div>\n");
      }
      List<VerificationRow> v = t.verification();
      if (v != null) {
        out.append("<p>The written pruned model and the dense model, evaluated on the whole validation set.</p>\n")
            .append("<table class=\"compact\" id=\"verification-table\">\n<tr><th>metric</th><th class=\"num\">dense</th>")
            .append("<th class=\"num\">pruned</th><th class=\"num\">change</th></tr>\n");
        VerificationRow dense = null;
        VerificationRow pruned = null;
        for (VerificationRow row : v) {
          String which = orEmpty(row.model());
          if (which.equals("dense")) {
            dense = row;
          } else if (which.equals("pruned")) {
            pruned = row;
          }
        }
        if (dense != null && pruned != null) {
          // One line per metric the table holds (a metric no row measured has no column), in column order.
          Map<String, Double> denseMetrics = dense.metrics().byColumn();
          Map<String, Double> prunedMetrics = pruned.metrics().byColumn();
          for (String name : denseMetrics.keySet()) {
            if (v.stream().allMatch(row -> row.metrics().byColumn().get(name) == null)) {
              continue;
            }
            double d = orNaN(denseMetrics.get(name));
            double p = orNaN(prunedMetrics.get(name));
            boolean key = name.equals(MetricValues.column(metric));
            out.append("<tr").append(key ? attr("class", "key") : "").append(attr("data-metric", name))
                .append("><td>").append(text(name)).append("</td><td class=\"num\">").append(num(d))
                .append("</td><td class=\"num\">").append(num(p)).append("</td><td class=\"num\">").append(signed(p - d))
                .append("</td></tr>\n");
          }
          out.append("</table>\n<p>Predicted drop of ").append(text(metric)).append(" (sum over tensors): <b>")
              .append(signed(pruned.predictedDrop())).append("</b>; measured: <b>")
              .append(signed(pruned.measuredDrop())).append("</b>.</p>\n");
        } else {
          out.append("</table>\n");
        }
      }
      out.append("</section>\n");
    }

    // ---- the run's record ----

    private void runRecord() {
      out.append("<section id=\"run\">\n<h2>Run</h2>\n<table class=\"compact kv\" id=\"run-info\">\n");
      kv("run id", m.runId());
      kv("command", m.command());
      kv("command line", String.join(" ", m.commandLine()));
      kv("status", m.status() == null ? "" : m.status().name());
      kv("started", m.started());
      kv("finished", m.finished());
      kv("output", m.output());
      if (m.previousRun() != null) {
        kv("previous run", m.previousRun());
      }
      kv("Spark application", m.sparkApplicationId() == null ? "" : m.sparkApplicationId());
      StringBuilder versions = new StringBuilder();
      m.versions().forEach((k, v) -> versions.append(versions.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
      kv("versions", versions.toString());
      out.append("</table>\n<h3>Inputs</h3>\n<table class=\"compact\" id=\"inputs\">\n<tr><th>input</th><th>path</th>")
          .append("<th class=\"num\">bytes</th><th>SHA-256</th></tr>\n");
      for (InputFile i : m.inputs()) {
        out.append("<tr").append(attr("data-role", i.role())).append("><td>").append(text(i.role()))
            .append("</td><td class=\"mono\">").append(text(i.path())).append("</td><td class=\"num\">")
            .append(count(i.bytes())).append("</td><td class=\"mono sha\">").append(text(i.sha256())).append("</td></tr>\n");
      }
      out.append("</table>\n<h3>Timings</h3>\n");
      out.append(SvgCharts.timings(m.timingsMillis()));
      long total = m.timingsMillis().values().stream().mapToLong(Long::longValue).sum();
      out.append("<p>Total of the stages: ").append(text(SvgCharts.seconds(total))).append(".</p>\n");
      out.append("<h3>Configuration</h3>\n<table class=\"compact kv\" id=\"configuration\">\n");
      config.forEach((k, v) -> kv(k, String.valueOf(v)));
      out.append("</table>\n</section>\n");
    }

    private void kv(String key, String value) {
      out.append("<tr><th>").append(text(key)).append("</th><td class=\"mono\">").append(text(value)).append("</td></tr>\n");
    }

    private static String shortSha(Object sha) {
      String s = sha == null ? "" : sha.toString();
      return s.length() > 16 ? "sha256 " + s.substring(0, 16) + "…" : s;
    }

    private static double number(Object o, double otherwise) {
      return o instanceof Number n ? n.doubleValue() : otherwise;
    }

    private static double orNaN(Double value) {
      return value == null ? Double.NaN : value;
    }

    private static String orEmpty(String value) {
      return value == null ? "" : value;
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

  private static final String CSS = """
      :root{color-scheme:light}
      body{margin:0;background:#f4f5f7;color:#1d2330;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,\
      "Helvetica Neue",Arial,sans-serif}
      main{max-width:1100px;margin:0 auto;padding:14px 22px 40px}
      header{display:flex;justify-content:space-between;align-items:center;gap:16px;margin:8px 0 4px}
      h1{font-size:22px;margin:0}
      h2{font-size:17px;margin:0 0 10px}
      h3{font-size:14px;margin:16px 0 6px}
      .sub{color:#5b6472}
      nav{margin:6px 0 0;font-size:13px}
      nav a{margin-right:14px;color:#2f5d8a;text-decoration:none}
      nav a:hover{text-decoration:underline}
      section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 18px;margin:14px 0}
      p{margin:4px 0 8px}
      .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:10px}
      .card{border:1px solid #e3e6eb;border-radius:6px;padding:8px 12px;background:#fbfbfc}
      .card .label{font-size:11px;color:#5b6472;text-transform:uppercase;letter-spacing:.04em}
      .card .value{font-size:19px;font-weight:600;margin:2px 0}
      .card .detail{font-size:12px;color:#5b6472}
      .card.ok{border-color:#9fd3ad;background:#f1faf3}
      .card.fail{border-color:#efa5a0;background:#fdf1f0}
      .badge{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:600;font-size:13px}
      .ok .value,.badge.ok{color:#1e6b34}
      .badge.ok{background:#dff3e4}
      .fail .value,.badge.fail{color:#a61b1b}
      .badge.fail{background:#fde2e1}
      .verdict{padding:8px 12px;border-radius:6px;margin:0 0 10px;font-weight:600}
      .verdict.ok{background:#dff3e4;color:#1e6b34}
      .verdict.fail{background:#fde2e1;color:#a61b1b}
      table{border-collapse:collapse;width:100%;font-size:13px}
      table.compact{width:auto;min-width:50%}
      th,td{padding:3px 8px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:middle}
      th{font-weight:600;color:#3b4350;background:#fafbfc}
      .kv th{width:210px;background:none}
      .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
      tr.key td{font-weight:600}
      tr.total td{font-weight:600;border-top:2px solid #dde1e7}
      td.tensor{overflow-wrap:anywhere;min-width:9em;max-width:260px}
      .mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
      .scroll{overflow-x:auto}
      .heat td,.heat th{padding:3px 5px}
      .heat td.num{text-align:center;font-size:12px}
      .heat td.good{background:#e4f3e7}
      .heat td.warn{background:#fff3c9}
      .heat td.bad{background:#f9d3cd}
      .heat td.worst{background:#ef9f94}
      .heat td.chosen{outline:2px solid #1d2330;outline-offset:-2px;font-weight:600}
      .muted{color:#888}
      .legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 8px 58px;font-size:12px}
      .legend .item{white-space:nowrap}
      .legend svg{vertical-align:middle;margin-right:5px}
      svg.chart{width:100%;height:auto;display:block}
      svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#4a5260}
      svg .axis-label{font-size:12px;fill:#1d2330}
      svg .grid{stroke:#eceef2;stroke-width:1}
      svg .frame{fill:none;stroke:#c9ced6}
      svg .curve{fill:none;stroke-width:2}
      svg .previous-curve{fill:none;stroke-width:1.5;stroke-dasharray:4 3;opacity:.45}
      svg .reference{stroke-width:1.5}
      svg .reference.baseline{stroke:#1d2330;stroke-dasharray:2 3}
      svg .reference.gate{stroke:#c0392b;stroke-dasharray:7 4}
      svg .reference.tolerance{stroke:#8e44ad;stroke-dasharray:3 3}
      svg .reference-label.gate{fill:#c0392b}
      svg .reference-label.tolerance{fill:#8e44ad}
      svg .point{stroke:#fff;stroke-width:1}
      svg.bar{vertical-align:middle}
      svg.bar .track{fill:#eef0f3}
      svg.bar .tick{stroke:#c9ced6}
      svg.bar .marker{stroke:#1d2330;stroke-dasharray:3 2;stroke-width:1.5}
      svg.density-bar .pruned-part{fill:#d6e2ef}
      svg.density-bar .kept-part{fill:#2f5d8a}
      svg .timing{fill:#76b7b2}
      footer{color:#5b6472;font-size:12px;margin-top:18px}
      """;
}
