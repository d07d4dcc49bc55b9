package dev.lopper.jobs.report;

import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.output.Manifest;
import java.util.Map;

/**
 * The run a report shows, as every section reads it: the manifest, the tables the run wrote (and
 * the previous run's), and what follows from the configuration — the decision metric, the gate's
 * max-drop, the allocation policy and the measured sensitivity curves.
 *
 * @param manifest the run's manifest, before commit
 * @param tables the tables the run wrote
 * @param previous the previous run's tables, or null
 * @param config the configuration as run, flattened to dotted keys
 * @param metric the decision metric's name
 * @param decision the decision metric
 * @param maxDrop the gate's max-drop, or null
 * @param policy the allocation policy's name, "" for none
 * @param curves the sensitivity curves, or null when the run wrote no sensitivity table
 */
record ReportRun(Manifest manifest, RunTables tables, RunTables previous, Map<String, Object> config, String metric,
    DecisionMetric decision, Double maxDrop, String policy, MeasuredCurves curves) {

  /** The run of {@code manifest} with its {@code tables}; {@code previous} may be null. */
  static ReportRun of(Manifest manifest, RunTables tables, RunTables previous) {
    Map<String, Object> config = RunComparison.flatten(manifest.configuration());
    String metric = String.valueOf(config.getOrDefault("metric", "accuracy"));
    return new ReportRun(manifest, tables, previous, config, metric, DecisionMetric.fromName(metric),
        config.get("gate.max-drop") instanceof Number n ? n.doubleValue() : null,
        String.valueOf(config.getOrDefault("allocation.policy", "")),
        tables.sensitivity() == null ? null : MeasuredCurves.of(tables.sensitivity(), metric));
  }

  boolean isPrune() {
    return "prune".equals(manifest.command());
  }

  /** Whether the page has the section "Change from the previous run". */
  boolean hasComparison() {
    return manifest.previousRun() != null && !manifest.comparison().isEmpty();
  }

  /** A heat-table cell's colour by how much worse: none, within the gate, beyond it. */
  String heatClass(double worse) {
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

  /** A number from the manifest's maps, {@code otherwise} for anything else. */
  static double number(Object o, double otherwise) {
    return o instanceof Number n ? n.doubleValue() : otherwise;
  }

  static String orEmpty(String value) {
    return value == null ? "" : value;
  }
}
