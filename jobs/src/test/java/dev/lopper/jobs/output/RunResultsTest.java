package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RunResultsTest {

  private static final RunResults.Metrics DENSE = new RunResults.Metrics(0.9, 1.0, 0.25, null, null, null, 0.0, 360);
  private static final RunResults.Metrics PRUNED = new RunResults.Metrics(0.8, 1.0, 0.5, null, null, null, 0.125, 360);

  @Test
  void sectionsAreOneObjectInOrderWithSnakeCaseNames() {
    Map<String, Object> json = RunResults.toMap(List.of(new RunResults.Data(360, 2, 4, null),
        new RunResults.Masks("target", 0.7, "parameters", null, 0.7, 70, 100),
        new RunResults.Verified("accuracy", 0.01, 0.1, DENSE, PRUNED)));
    assertEquals(List.of("rows", "partitions", "tensors", "policy", "target", "unit", "sparsity", "pruned_parameters",
        "parameters", "metric", "predicted_drop", "measured_drop", "dense", "pruned"), new ArrayList<>(json.keySet()),
        "absent optional fields (groups, pruned_macs_fraction) are left out");
    Map<?, ?> dense = (Map<?, ?>) json.get("dense");
    assertEquals(List.of("accuracy", "top5", "loss", "precision_macro", "recall_macro", "f1_macro", "kl", "samples"),
        new ArrayList<>(dense.keySet()));
    assertTrue(dense.containsKey("precision_macro") && dense.get("precision_macro") == null,
        "a metric that is not a number is written as null");
  }

  @Test
  void nullFieldsThatAreNotOptionalAreWritten() {
    Map<String, Object> json = RunResults.toMap(List.of(new RunResults.Latency(1.5, 64, null, null, 1.5, 1, null, 1.6,
        100, 60, null, null, 10)));
    assertTrue(json.containsKey("latency_multiplier") && json.get("latency_multiplier") == null);
  }

  @Test
  void readsEachSectionBackFromTheManifest() {
    RunResults.Masks masks = new RunResults.Masks("uniform", 0.5, "flops", 0.4, 0.5, 50, 100);
    RunResults.Verified verified = new RunResults.Verified("accuracy", 0.01, 0.1, DENSE, PRUNED);
    Manifest m = Manifest.builder("r", "prune").results(RunResults.toMap(List.of(new RunResults.Data(10, 1, 2, 3),
        masks, verified))).build();
    Manifest read = Manifest.fromJson(m.toJson());
    assertEquals(new RunResults.Data(10, 1, 2, 3), RunResults.read(read.results(), RunResults.Data.class).orElseThrow());
    assertEquals(masks, RunResults.read(read.results(), RunResults.Masks.class).orElseThrow());
    assertEquals(verified, RunResults.read(read.results(), RunResults.Verified.class).orElseThrow());
    assertTrue(RunResults.read(read.results(), RunResults.Channels.class).isEmpty());
    assertTrue(RunResults.read(read.results(), RunResults.Sweep.class).isEmpty());
  }

  @Test
  void readsASectionWhoseOptionalFieldsWereLeftOut() {
    Manifest m = Manifest.builder("r", "prune").results(RunResults.toMap(List.of(new RunResults.Data(10, 1, 2, null),
        new RunResults.Masks("uniform", 0.5, "parameters", null, 0.5, 50, 100)))).build();
    Manifest read = Manifest.fromJson(m.toJson());
    assertEquals(new RunResults.Data(10, 1, 2, null), RunResults.read(read.results(), RunResults.Data.class)
        .orElseThrow());
    assertEquals(new RunResults.Masks("uniform", 0.5, "parameters", null, 0.5, 50, 100),
        RunResults.read(read.results(), RunResults.Masks.class).orElseThrow());
  }

  @Test
  void aSectionIsNotReadFromAnotherThatSharesSomeOfItsNames() {
    Map<String, Object> channels = RunResults.toMap(List.of(new RunResults.Data(10, 1, 2, 3),
        new RunResults.Channels(0, "target", 0.5, "parameters", 0.4, 0.5, 100, 50, 1000, 500, 400, 200, 2, 2, 2, 8, 4)));
    assertTrue(RunResults.read(channels, RunResults.Masks.class).isEmpty(), "policy, target, unit, parameters only");
    assertEquals(3, RunResults.read(channels, RunResults.Data.class).orElseThrow().groups());
  }

  @Test
  void refusesAFieldInTwoSections() {
    assertThrows(IllegalArgumentException.class, () -> RunResults.toMap(List.of(
        new RunResults.Masks("uniform", 0.5, "parameters", null, 0.5, 50, 100),
        new RunResults.Channels(0, "uniform", 0.5, "parameters", null, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))));
  }
}
