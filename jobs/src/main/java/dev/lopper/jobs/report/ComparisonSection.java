package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.exact;
import static dev.lopper.jobs.report.Html.num;
import static dev.lopper.jobs.report.Html.percent;
import static dev.lopper.jobs.report.Html.signed;
import static dev.lopper.jobs.report.ReportRun.number;

import dev.lopper.jobs.sweep.SensitivityRow;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;

/**
 * "Change from the previous run" ({@code report/comparison.jte}), from the manifest's {@code
 * comparison}: the previous run, its figures against this run's, the changed inputs and
 * configuration keys, and per tensor the change of the decision metric at each sparsity.
 *
 * @param previousRun the previous run's directory
 * @param previousHref a link to the previous run's report, or null when it is not beside this run
 * @param previousRunId the previous run's id
 * @param previousStarted when the previous run started
 * @param previousStatus the previous run's status
 * @param figures dense and pruned metrics, sparsity, pruned parameters
 * @param gate both runs' gate verdicts, or null
 * @param inputs the inputs that changed (path or SHA-256)
 * @param configuration the configuration keys that changed
 * @param tensors the change per tensor and sparsity, or null
 */
public record ComparisonSection(String previousRun, String previousHref, String previousRunId, String previousStarted,
    String previousStatus, List<Figure> figures, Gate gate, List<Input> inputs, List<Key> configuration,
    TensorChanges tensors) {

  /**
   * A figure of both runs.
   *
   * @param label what it is, e.g. "dense accuracy"
   * @param key whether it is a key figure (shown bold)
   * @param previous the previous run's value
   * @param current this run's value
   * @param change this run minus the previous
   */
  public record Figure(String label, boolean key, String previous, String current, String change) {
    /** The row's class: {@code key} or null (none). */
    public String cssClass() {
      return key ? "key" : null;
    }
  }

  /** Both runs' gate verdicts, "passed" or "FAILED". */
  public record Gate(String previous, String current) {}

  /** An input that changed: its role, and path and shortened SHA-256 in both runs. */
  public record Input(String role, String previousPath, String previousSha, String path, String sha) {}

  /** A configuration key that changed, with both runs' values. */
  public record Key(String key, String previous, String current) {}

  /**
   * The heat table of changes per tensor.
   *
   * @param metric the decision metric
   * @param sparsities the column heads, the swept sparsities as percentages
   * @param rows one per tensor
   */
  public record TensorChanges(String metric, List<String> sparsities, List<TensorRow> rows) {}

  /**
   * A tensor's changes.
   *
   * @param tensor the tensor's name
   * @param node the readable name of an anonymous tensor, or null
   * @param allocated the allocated sparsities, "previous → this run"
   * @param cells one per swept sparsity
   * @param maxAbsChange the largest absolute change
   */
  public record TensorRow(String tensor, String node, String allocated, List<Cell> cells, String maxAbsChange) {}

  /**
   * A cell of the heat table.
   *
   * @param cssClass {@code num} and its colour
   * @param sparsity the sparsity, exact
   * @param change the change, exact
   * @param text the change for people
   */
  public record Cell(String cssClass, String sparsity, String change, String text) {}

  static ComparisonSection of(ReportRun run) {
    Map<String, Object> c = run.manifest().comparison();
    String prev = run.manifest().previousRun();
    List<Figure> figures = new ArrayList<>();
    for (String side : List.of("dense", "pruned")) {
      if (c.get(side) instanceof Map<?, ?> metrics) {
        for (Map.Entry<?, ?> e : metrics.entrySet()) {
          // The decision metric, loss and the divergence from the dense outputs; the manifest has them all.
          boolean shown = e.getKey().equals(run.metric()) || e.getKey().equals("loss") || e.getKey().equals("kl");
          if (shown && e.getValue() instanceof Map<?, ?> v) {
            figures.add(figure(side + " " + e.getKey(), v, e.getKey().equals(run.metric())));
          }
        }
      }
    }
    if (c.get("sparsity") instanceof Map<?, ?> v) {
      figures.add(figure("overall sparsity", v, true));
    }
    if (c.get("pruned_parameters") instanceof Map<?, ?> v) {
      figures.add(figure("pruned parameters", v, false));
    }
    Gate gate = c.get("gate") instanceof Map<?, ?> g
        ? new Gate(verdict(g.get("previous_passed")), verdict(g.get("current_passed"))) : null;
    List<Input> inputs = new ArrayList<>();
    if (c.get("inputs_changed") instanceof List<?> list) {
      for (Object o : list) {
        Map<?, ?> i = (Map<?, ?>) o;
        inputs.add(new Input(String.valueOf(i.get("role")), String.valueOf(i.get("previous_path")),
            shortSha(i.get("previous_sha256")), String.valueOf(i.get("path")), shortSha(i.get("sha256"))));
      }
    }
    List<Key> keys = new ArrayList<>();
    if (c.get("configuration_changed") instanceof List<?> list) {
      for (Object o : list) {
        Map<?, ?> k = (Map<?, ?>) o;
        keys.add(new Key(String.valueOf(k.get("key")), String.valueOf(k.get("previous")),
            String.valueOf(k.get("current"))));
      }
    }
    return new ComparisonSection(prev, previousHref(run), String.valueOf(c.get("previous_run_id")),
        String.valueOf(c.get("previous_started")), String.valueOf(c.get("previous_status")), List.copyOf(figures),
        gate, List.copyOf(inputs), List.copyOf(keys), tensorChanges(run, c));
  }

  private static Figure figure(String label, Map<?, ?> v, boolean key) {
    return new Figure(label, key, num(number(v.get("previous"), Double.NaN)),
        num(number(v.get("current"), Double.NaN)), signed(number(v.get("change"), Double.NaN)));
  }

  private static String verdict(Object passed) {
    return Boolean.TRUE.equals(passed) ? "passed" : "FAILED";
  }

  private static TensorChanges tensorChanges(ReportRun run, Map<String, Object> c) {
    if (!(c.get("tensors") instanceof List<?> tensors) || !(c.get("sparsities") instanceof List<?> grid)) {
      return null;
    }
    List<String> heads = grid.stream().map(s -> percent(number(s, Double.NaN))).toList();
    Map<String, String> nodes = readableNames(run);
    List<TensorRow> rows = new ArrayList<>();
    for (Object o : tensors) {
      Map<?, ?> e = (Map<?, ?>) o;
      List<?> changes = e.get("changes") instanceof List<?> l ? l : List.of();
      List<Cell> cells = new ArrayList<>();
      for (int i = 0; i < grid.size(); i++) {
        double change = i < changes.size() ? number(changes.get(i), Double.NaN) : Double.NaN;
        double worse = Double.isNaN(change) ? Double.NaN : (run.decision().higherIsBetter() ? -change : change);
        cells.add(new Cell("num " + run.heatClass(worse), exact(number(grid.get(i), Double.NaN)), exact(change),
            signed(change)));
      }
      String tensor = String.valueOf(e.get("tensor"));
      rows.add(new TensorRow(tensor, nodes.get(tensor), percent(number(e.get("previous_sparsity"), Double.NaN))
          + " → " + percent(number(e.get("sparsity"), Double.NaN)), List.copyOf(cells),
          num(number(e.get("max_abs_change"), Double.NaN))));
    }
    return new TensorChanges(run.metric(), heads, List.copyOf(rows));
  }

  /** The readable names of anonymous tensors in this run's sensitivity table and the previous run's. */
  private static Map<String, String> readableNames(ReportRun run) {
    Map<String, String> names = new HashMap<>();
    List<List<SensitivityRow>> tables = new ArrayList<>();
    tables.add(run.tables().sensitivity());
    tables.add(run.previous() == null ? null : run.previous().sensitivity());
    for (List<SensitivityRow> table : tables) {
      for (SensitivityRow row : table == null ? List.<SensitivityRow>of() : table) {
        if (row.node() != null) {
          names.putIfAbsent(row.tensor(), row.node());
        }
      }
    }
    return names;
  }

  /** The previous report's address relative to this one, when both runs share a parent directory. */
  private static String previousHref(ReportRun run) {
    if (run.manifest().output() == null) {
      return null;
    }
    Path p = new Path(run.manifest().previousRun());
    Path current = new Path(run.manifest().output());
    if (p.getParent() != null && current.getParent() != null
        && p.getParent().toUri().getPath().equals(current.getParent().toUri().getPath())) {
      return "../" + p.getName() + "/" + HtmlReport.FILE;
    }
    return null;
  }

  private static String shortSha(Object sha) {
    String s = sha == null ? "" : sha.toString();
    return s.length() > 16 ? "sha256 " + s.substring(0, 16) + "…" : s;
  }
}
