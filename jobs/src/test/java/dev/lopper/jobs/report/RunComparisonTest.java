package dev.lopper.jobs.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.sweep.SensitivityRow;
import dev.lopper.metrics.MetricValues;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The comparison of two runs, against changes computed by hand from the fixtures' numbers. */
class RunComparisonTest {

  @SuppressWarnings("unchecked")
  private static <T> T at(Object map, String... keys) {
    Object o = map;
    for (String k : keys) {
      o = ((Map<String, Object>) o).get(k);
    }
    return (T) o;
  }

  @Test
  void recordsMetricSparsityInputConfigurationAndTensorChanges() {
    Manifest previous = ReportFixtures.prune("a", 0.7, 0.89, "bb".repeat(32)).build();
    Manifest current = ReportFixtures.prune("b", 0.75, 0.86, "cc".repeat(32)).build();
    Map<String, Object> c = RunComparison.compare(previous, ReportFixtures.pruneTables(0, 0.8), current,
        ReportFixtures.pruneTables(0.02, 0.7));

    assertEquals("a", c.get("previous_run_id"));
    assertEquals("accuracy", c.get("metric"));
    assertEquals(0.89, (Double) at(c, "pruned", "accuracy", "previous"));
    assertEquals(0.86 - 0.89, (Double) at(c, "pruned", "accuracy", "change"), 1e-15);
    assertEquals(0.0, (Double) at(c, "dense", "accuracy", "change"));
    assertEquals(0.0, (Double) at(c, "sparsity", "change"));
    assertEquals(true, at(c, "gate", "previous_passed"));
    assertEquals(false, at(c, "gate", "current_passed"), "0.9 -> 0.86 drops 0.04 > 0.02");

    List<Map<String, Object>> inputs = at(c, "inputs_changed");
    assertEquals(1, inputs.size());
    assertEquals("weights", inputs.get(0).get("role"));
    assertEquals("cc".repeat(32), inputs.get(0).get("sha256"));
    List<Map<String, Object>> keys = at(c, "configuration_changed");
    assertEquals(List.of(Map.of("key", "allocation.target", "previous", 0.7, "current", 0.75)), keys);

    assertEquals(List.of(0.5, 0.9), c.get("sparsities"));
    List<Map<String, Object>> tensors = at(c, "tensors");
    assertEquals(ReportFixtures.HOSTILE, tensors.get(0).get("tensor"));
    // (0.88 + 0.02) - 0.88 and (0.41 + 0.02) - 0.41, as doubles compute them.
    assertEquals(List.of((0.88 + 0.02) - 0.88, (0.41 + 0.02) - 0.41), tensors.get(0).get("changes"));
    Map<String, Object> fc = tensors.get(1);
    assertEquals(0.8, fc.get("previous_sparsity"));
    assertEquals(0.7, fc.get("sparsity"));
    assertEquals(List.of(0.0, (0.87 - 0.02) - 0.87), fc.get("changes"));
    assertEquals(Math.abs((0.87 - 0.02) - 0.87), (Double) fc.get("max_abs_change"), 0);
    assertEquals(0.9, fc.get("at_sparsity"));
  }

  @Test
  void tensorsOfOneRunOnlyHaveNoChanges() {
    Manifest previous = ReportFixtures.prune("a", 0.7, 0.89, "bb".repeat(32)).build();
    RunTables only = new RunTables(ReportFixtures.sensitivity(0), null, null, null);
    List<SensitivityRow> renamed = List.of(accuracyAt("(dense)", 0.0, 0.9), accuracyAt("new.weight", 0.5, 0.8));
    Map<String, Object> c = RunComparison.compare(previous, only, previous,
        new RunTables(renamed, null, null, null));
    List<Map<String, Object>> tensors = at(c, "tensors");
    assertEquals(List.of("new.weight", ReportFixtures.HOSTILE, "fc.weight"),
        tensors.stream().map(t -> t.get("tensor")).toList());
    assertEquals(java.util.Arrays.asList((Double) null), tensors.get(0).get("changes"));
    assertNull(tensors.get(0).get("max_abs_change"));
  }

  /** A sensitivity row that holds only a tensor, a sparsity and the accuracy there. */
  private static SensitivityRow accuracyAt(String tensor, double sparsity, double accuracy) {
    MetricValues none = new MetricValues(null, null, null, null, null, null, null);
    return new SensitivityRow(tensor, null, "", 0, "", sparsity, 0, null, null,
        new MetricValues(accuracy, null, null, null, null, null, null), none, 0);
  }
}
