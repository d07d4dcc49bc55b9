package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.jobs.config.DecisionMetric;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {

  @TempDir
  Path tmp;

  private static Manifest full() {
    StageTimings timings = new StageTimings();
    timings.record("spark-start", 3100);
    timings.record("sweep", 12000);
    timings.record("sweep", 5);
    return Manifest.builder("20261121T220310Z-3f9a2c1b", "prune")
        .commandLine(List.of("prune", "--config", "conf/digits-cnn.yaml"))
        .output("runs/x")
        .configuration(Map.of("data", Map.of("batch-size", 256, "input-shape", List.of(1L, 8L, 8L)),
            "sweep", Map.of("sparsities", List.of(0.1, 0.5))))
        .input(new InputFile("model", "data/m.onnx", 1234, "ab".repeat(32)))
        .versions(Map.of("lopper", "0.1.0", "spark", "4.0.4"))
        .sparkApplicationId("local-1700000000000")
        .timings(timings)
        .gate(GateVerdict.judge(DecisionMetric.ACCURACY, 0.98, 0.95, 0.02))
        .results(Map.of("overall_sparsity", 0.7, "pruned_parameters", 12_345_678_901L))
        .build()
        .withOutputs(List.of(new OutputFile("tables/sensitivity.csv", 99)));
  }

  @Test
  void roundTripsThroughJson() {
    Manifest m = full();
    assertEquals(m, Manifest.fromJson(m.toJson()));
  }

  @Test
  void writesSnakeCaseFieldsWithTheFailedGate() throws IOException {
    JsonNode json = new ObjectMapper().readTree(full().toJson());
    List<String> fields = new ArrayList<>();
    json.fieldNames().forEachRemaining(fields::add);
    assertEquals(List.of("format", "run_id", "command", "command_line", "status", "started", "finished", "output",
        "configuration", "inputs", "versions", "spark_application_id", "timings_millis", "gate", "results",
        "previous_run", "comparison", "outputs"), fields);
    assertEquals("FAILED_GATE", json.get("status").asText());
    assertEquals(12005, json.get("timings_millis").get("sweep").asLong());
    assertEquals(0.02, json.get("gate").get("max_drop").asDouble());
    assertFalse(json.get("gate").get("passed").asBoolean());
    assertEquals(256, json.get("configuration").get("data").get("batch-size").asInt(), "config keys unchanged");
  }

  @Test
  void statusIsSucceededWithoutAGateOrWhenItPasses() {
    assertEquals(RunStatus.SUCCEEDED, Manifest.builder("r", "sensitivity").build().status());
    assertNull(Manifest.builder("r", "sensitivity").build().gate());
    assertEquals(RunStatus.SUCCEEDED, Manifest.builder("r", "prune")
        .gate(GateVerdict.judge(DecisionMetric.LOSS, 0.30, 0.31, 0.02)).build().status());
  }

  @Test
  void gateMeasuresDropsInTheMetricsDirection() {
    // Accuracy: higher is better, drop = dense - pruned = 0.03 > 0.02.
    GateVerdict accuracy = GateVerdict.judge(DecisionMetric.ACCURACY, 0.98, 0.95, 0.02);
    assertEquals(0.03, accuracy.drop(), 1e-12);
    assertFalse(accuracy.passed());
    // Loss: lower is better, drop = pruned - dense = 0.01 <= 0.02.
    GateVerdict loss = GateVerdict.judge(DecisionMetric.LOSS, 0.30, 0.31, 0.02);
    assertEquals(0.01, loss.drop(), 1e-12);
    assertTrue(loss.passed());
    // No gate configured: always passes.
    assertTrue(GateVerdict.judge(DecisionMetric.KL, 0, 5, null).passed());
  }

  @Test
  void checksumsFilesAndDirectoriesOfDataFiles() throws IOException {
    Configuration conf = new Configuration();
    Path file = Files.writeString(tmp.resolve("m.onnx"), "abc");
    InputFile model = InputFile.of("model", file.toString(), conf);
    // sha256("abc"), the FIPS 180-2 test vector.
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", model.sha256());
    assertEquals(3, model.bytes());

    Path dir = Files.createDirectories(tmp.resolve("d.parquet/sub"));
    Files.writeString(tmp.resolve("d.parquet/part-1"), "abc");
    Files.writeString(tmp.resolve("d.parquet/sub/part-2"), "");
    Files.writeString(tmp.resolve("d.parquet/_SUCCESS"), "ignored");
    Files.writeString(tmp.resolve("d.parquet/.hidden"), "ignored");
    InputFile data = InputFile.of("data", dir.getParent().toString(), conf);
    // Python: sha256("part-1\t<sha256 abc>\nsub/part-2\t<sha256 of nothing>\n").
    assertEquals("49cdb03666397ed53c4ee93f5deedc4be9e398fa6b9721827fd1791c329ea479", data.sha256());
    assertEquals(3, data.bytes());
  }

  @Test
  void versionsNameLopperAndTheLibraries() {
    Map<String, String> versions = Versions.collect("4.0.4");
    assertEquals(List.of("lopper", "java", "spark", "scala", "hadoop", "onnxruntime", "nd4j"),
        List.copyOf(versions.keySet()));
    assertTrue(versions.get("lopper").matches("\\d+\\.\\d+\\.\\d+.*"), versions.get("lopper"));
    assertEquals("4.0.4", versions.get("spark"));
    assertEquals("1.29.0", versions.get("onnxruntime"));
    assertEquals("1.0.0-M2.1", versions.get("nd4j"));
    assertEquals("3.4.1", versions.get("hadoop"));
    assertEquals("2.13.16", versions.get("scala"));
  }
}
