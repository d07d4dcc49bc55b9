package dev.lopper.jobs.report;

import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunResults;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The change of a run from the previous run of the same configuration, as recorded in the
 * manifest's {@code comparison} and shown in the report. Every change is current minus previous.
 *
 * <p>Keys of the comparison (absent when a side lacks the figure):
 * <ul>
 *   <li>{@code previous_run_id}, {@code previous_started}, {@code previous_status}
 *   <li>{@code metric}: the decision metric
 *   <li>{@code dense}, {@code pruned}: per metric {@code {previous, current, change}}, from the
 *       manifests' results (for {@code prune}, the verified figures)
 *   <li>{@code sparsity}, {@code pruned_parameters}: {@code {previous, current, change}}
 *   <li>{@code gate}: {@code {previous_passed, current_passed, previous_drop, current_drop}}
 *   <li>{@code inputs_changed}: inputs whose path or SHA-256 differ, {@code {role, previous_path, path,
 *       previous_sha256, sha256}}
 *   <li>{@code configuration_changed}: keys whose values differ, {@code {key, previous, current}},
 *       the {@code output.*} keys left out
 *   <li>{@code sparsities}: the sparsities both sensitivity tables measured
 *   <li>{@code tensors}: per tensor of either run, {@code {tensor, previous_sparsity, sparsity,
 *       changes, max_abs_change, at_sparsity}}: the allocated sparsities and the change of the decision
 *       metric at each of {@code sparsities} (null where one run lacks the tensor)
 * </ul>
 */
public final class RunComparison {

  private RunComparison() {}

  /** Compares {@code current} (a manifest before commit and the tables written) with {@code previous}. */
  public static Map<String, Object> compare(Manifest previous, RunTables previousTables, Manifest current,
      RunTables currentTables) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("previous_run_id", previous.runId());
    out.put("previous_started", previous.started());
    out.put("previous_status", previous.status() == null ? null : previous.status().name());
    Optional<RunResults.Verified> verifiedBefore = RunResults.read(previous.results(), RunResults.Verified.class);
    Optional<RunResults.Verified> verifiedNow = RunResults.read(current.results(), RunResults.Verified.class);
    String metric = verifiedNow.map(RunResults.Verified::metric)
        .orElse(String.valueOf(current.configuration().get("metric")));
    out.put("metric", metric);
    putMetrics(out, "dense", denseOf(previous), denseOf(current));
    putMetrics(out, "pruned", verifiedBefore.map(RunResults.Verified::pruned).orElse(null),
        verifiedNow.map(RunResults.Verified::pruned).orElse(null));
    Optional<RunResults.Masks> masksBefore = RunResults.read(previous.results(), RunResults.Masks.class);
    Optional<RunResults.Masks> masksNow = RunResults.read(current.results(), RunResults.Masks.class);
    putChange(out, "sparsity", masksBefore.map(RunResults.Masks::sparsity).orElse(null),
        masksNow.map(RunResults.Masks::sparsity).orElse(null));
    putChange(out, "pruned_parameters", masksBefore.map(RunResults.Masks::prunedParameters).orElse(null),
        masksNow.map(RunResults.Masks::prunedParameters).orElse(null));
    if (previous.gate() != null && current.gate() != null) {
      GateVerdict p = previous.gate();
      GateVerdict c = current.gate();
      Map<String, Object> gate = new LinkedHashMap<>();
      gate.put("previous_passed", p.passed());
      gate.put("current_passed", c.passed());
      gate.put("previous_drop", finite(p.drop()));
      gate.put("current_drop", finite(c.drop()));
      out.put("gate", gate);
    }
    out.put("inputs_changed", inputsChanged(previous.inputs(), current.inputs()));
    out.put("configuration_changed", configurationChanged(previous.configuration(), current.configuration()));
    if (previousTables.sensitivity() != null && currentTables.sensitivity() != null) {
      putTensors(out, MeasuredCurves.of(previousTables.sensitivity(), metric),
          MeasuredCurves.of(currentTables.sensitivity(), metric),
          sparsities(previousTables.allocation()), sparsities(currentTables.allocation()));
    }
    return out;
  }

  /** A run's dense metrics: the verified ones of a prune, the sweep's baseline of a sensitivity run. */
  private static RunResults.Metrics denseOf(Manifest run) {
    return RunResults.read(run.results(), RunResults.Verified.class).map(RunResults.Verified::dense)
        .or(() -> RunResults.read(run.results(), RunResults.Sweep.class).map(RunResults.Sweep::dense)).orElse(null);
  }

  private static void putMetrics(Map<String, Object> out, String key, RunResults.Metrics previous,
      RunResults.Metrics current) {
    if (previous == null || current == null) {
      return;
    }
    Map<String, Object> metrics = new LinkedHashMap<>();
    Map<String, Double> p = previous.byName();
    current.byName().forEach((name, value) -> putChange(metrics, name, p.get(name), value));
    out.put(key, metrics);
  }

  private static void putChange(Map<String, Object> out, String key, Object previous, Object current) {
    if (!(previous instanceof Number) && !(current instanceof Number)) {
      return;
    }
    Map<String, Object> change = new LinkedHashMap<>();
    change.put("previous", previous);
    change.put("current", current);
    change.put("change", previous instanceof Number p && current instanceof Number c
        ? finite(c.doubleValue() - p.doubleValue()) : null);
    out.put(key, change);
  }

  private static List<Object> inputsChanged(List<InputFile> previous, List<InputFile> current) {
    List<Object> changed = new ArrayList<>();
    for (InputFile c : current) {
      InputFile p = previous.stream().filter(i -> i.role().equals(c.role())).findFirst().orElse(null);
      if (p == null || !p.sha256().equals(c.sha256()) || !p.path().equals(c.path())) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("role", c.role());
        entry.put("previous_path", p == null ? null : p.path());
        entry.put("path", c.path());
        entry.put("previous_sha256", p == null ? null : p.sha256());
        entry.put("sha256", c.sha256());
        changed.add(entry);
      }
    }
    for (InputFile p : previous) {
      if (current.stream().noneMatch(i -> i.role().equals(p.role()))) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("role", p.role());
        entry.put("previous_path", p.path());
        entry.put("path", null);
        entry.put("previous_sha256", p.sha256());
        entry.put("sha256", null);
        changed.add(entry);
      }
    }
    return changed;
  }

  private static List<Object> configurationChanged(Map<String, Object> previous, Map<String, Object> current) {
    Map<String, Object> p = flatten(previous);
    Map<String, Object> c = flatten(current);
    TreeMap<String, Boolean> keys = new TreeMap<>();
    p.keySet().forEach(k -> keys.put(k, true));
    c.keySet().forEach(k -> keys.put(k, true));
    List<Object> changed = new ArrayList<>();
    for (String key : keys.keySet()) {
      if (key.startsWith("output.") || Objects.equals(p.get(key), c.get(key))) {
        continue;
      }
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("key", key);
      entry.put("previous", p.get(key));
      entry.put("current", c.get(key));
      changed.add(entry);
    }
    return changed;
  }

  /** Nested sections as dotted keys ({@code allocation.target}); lists and {@code spark.conf} stay whole. */
  static Map<String, Object> flatten(Map<String, Object> configuration) {
    Map<String, Object> out = new LinkedHashMap<>();
    flatten("", configuration, out);
    return out;
  }

  @SuppressWarnings("unchecked")
  private static void flatten(String prefix, Map<String, Object> map, Map<String, Object> out) {
    for (Map.Entry<String, Object> e : map.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> nested && !key.equals("spark.conf")) {
        flatten(key + ".", (Map<String, Object>) nested, out);
      } else {
        out.put(key, e.getValue());
      }
    }
  }

  /** Tensor name to allocated sparsity, in the table's order; empty without an allocation. */
  static Map<String, Double> sparsities(List<TensorAllocation> allocation) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (allocation != null) {
      for (TensorAllocation row : allocation) {
        out.put(row.tensor() == null ? "" : row.tensor(), row.sparsity());
      }
    }
    return out;
  }

  private static void putTensors(Map<String, Object> out, MeasuredCurves previous, MeasuredCurves current,
      Map<String, Double> previousAllocation, Map<String, Double> currentAllocation) {
    List<Double> grid = new ArrayList<>();
    double[] previousGrid = previous.grid();
    for (double s : current.grid()) {
      if (java.util.Arrays.stream(previousGrid).anyMatch(x -> x == s)) {
        grid.add(s);
      }
    }
    out.put("sparsities", grid);
    List<String> names = new ArrayList<>();
    current.curves().forEach(c -> names.add(c.tensor()));
    previous.curves().stream().map(MeasuredCurves.Curve::tensor).filter(t -> !names.contains(t)).forEach(names::add);
    List<Object> tensors = new ArrayList<>();
    for (String name : names) {
      MeasuredCurves.Curve p = previous.curve(name);
      MeasuredCurves.Curve c = current.curve(name);
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("tensor", name);
      entry.put("previous_sparsity", previousAllocation.get(name));
      entry.put("sparsity", currentAllocation.get(name));
      List<Double> changes = new ArrayList<>();
      double maxAbs = Double.NaN;
      Double at = null;
      for (double s : grid) {
        double change = p == null || c == null ? Double.NaN : c.valueAt(s) - p.valueAt(s);
        changes.add(finite(change));
        if (Double.isFinite(change) && !(Math.abs(change) <= maxAbs)) {
          maxAbs = Math.abs(change);
          at = s;
        }
      }
      entry.put("changes", changes);
      entry.put("max_abs_change", finite(maxAbs));
      entry.put("at_sparsity", at);
      tensors.add(entry);
    }
    out.put("tensors", tensors);
  }

  /** {@code x}, or null when not finite: JSON has no NaN. */
  private static Double finite(double x) {
    return Double.isFinite(x) ? x : null;
  }
}
