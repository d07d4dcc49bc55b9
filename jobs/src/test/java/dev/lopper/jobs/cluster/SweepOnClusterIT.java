package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sensitivity sweep of both sample models, run by the real fat jar on a standalone cluster (executors
 * in JVMs of their own) with 1, 3 and 8 data partitions, gives the same table as the core library computing
 * the sweep in one process, and PyTorch's numbers; and {@code prune} on the cluster verifies the model it
 * emitted with the metrics that one process measures for that file.
 */
class SweepOnClusterIT {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  private static final int[] PARTITIONS = {1, 3, 8};

  private static LopperCluster lopper;
  private static long submitted;
  private static final Map<Integer, SubmittedApp> CNN_APPS = new LinkedHashMap<>();
  private static SubmittedApp mlpApp;
  private static SubmittedApp pruneApp;
  private static final Map<Integer, SubmittedApp> LM_APPS = new LinkedHashMap<>();

  /**
   * Starts the cluster and submits every run at once: the master runs them one after the other (each
   * application takes both cores), and the later drivers start while the earlier applications run.
   */
  @BeforeAll
  static void startClusterAndSubmit() throws IOException {
    lopper = LopperCluster.start("SweepOnClusterIT", 2);
    submitted = System.nanoTime();
    for (int partitions : PARTITIONS) {
      // The sample configuration as it is, paths relative to the repository, as a user submits it.
      CNN_APPS.put(partitions, lopper.submit("sensitivity", "--config", "conf/digits-cnn.yaml",
          "--set", "output.dir=" + cnnOutput(partitions), "--set", "data.partitions=" + partitions));
    }
    mlpApp = lopper.submit("sensitivity", "--config", "conf/digits-cnn.yaml",
        "--set", "model.onnx=data/digits-mlp.onnx", "--set", "model.weights=data/digits-mlp.safetensors",
        "--set", "data.input-shape=[64]", "--set", "data.partitions=3", "--set", "output.dir=" + mlpOutput());
    // Relative to the driver's working directory, as the model and data paths are: executors must still find
    // the pruned model that verification evaluates.
    pruneApp = lopper.submit("prune", "--config", "conf/digits-cnn.yaml", "--set", "data.partitions=3",
        "--set", "output.dir=" + LopperCluster.repoRoot().relativize(pruneOutput()));
    for (int partitions : new int[] {1, 8}) {
      LM_APPS.put(partitions, lopper.submit("sensitivity", "--config", "conf/tiny-lm.yaml",
          "--set", "data.partitions=" + partitions, "--set", "output.dir=" + lmOutput(partitions)));
    }
  }

  private static Path lmOutput(int partitions) {
    return lopper.workDir().resolve("lm-" + partitions);
  }

  /**
   * The sample language model's sweep (every Linear weight, the whole grid) on the cluster: the same
   * table for 1 and 8 partitions, and PyTorch's perplexity within 1e-4 relative everywhere.
   */
  @Test
  void languageModelSweepOnTheClusterIsTheSameForAnyPartitioningAndEqualsPyTorch() throws IOException {
    Map<String, Map<String, String>> torch = new java.util.HashMap<>();
    for (Map<String, String> row : dev.lopper.fixtures.ReferenceCsv.read("tiny-lm-sensitivity.csv")) {
      torch.put((row.get("tensor").isEmpty() ? "(dense)" : row.get("tensor")) + "@" + row.get("sparsity"), row);
    }
    String first = null;
    for (int partitions : LM_APPS.keySet()) {
      String what = "lopper sensitivity (tiny LM, " + partitions + " partitions)";
      LopperCluster.awaitSuccess(LM_APPS.get(partitions), what);
      JsonNode manifest = LopperCluster.assertRanOnCluster(lmOutput(partitions));
      assertEquals(partitions, manifest.path("results").path("partitions").asInt(), "partitions used");
      String table = LopperCluster.sensitivityCsv(lmOutput(partitions));
      first = first == null ? table : first;
      SweepTables.assertSameTable(first, table, what);
      List<Map<String, String>> rows = SweepTables.rows(table);
      assertEquals(1 + 13 * GRID.length, rows.size(), what);
      for (Map<String, String> row : rows) {
        Map<String, String> expected = torch.get(row.get("tensor") + "@" + Double.parseDouble(row.get("sparsity")));
        double ppl = Double.parseDouble(expected.get("perplexity"));
        assertEquals(ppl, Double.parseDouble(row.get("perplexity")), 1e-4 * ppl, what + ": " + row);
      }
    }
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  private static Path cnnOutput(int partitions) {
    return lopper.workDir().resolve("cnn-" + partitions);
  }

  private static Path mlpOutput() {
    return lopper.workDir().resolve("mlp-3");
  }

  private static Path pruneOutput() {
    return lopper.workDir().resolve("prune-3");
  }

  @Test
  void cnnSweepOnTheClusterEqualsTheSingleProcessSweepAndPyTorchForAnyPartitioning() throws IOException {
    String expected = SweepTables.singleProcessCsv(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors"), new long[] {1, 8, 8}, GRID, lopper.workDir().resolve("cnn-expected.csv"));
    SweepTables.assertMatchesPyTorch(expected, "digits-cnn-sensitivity.csv", "single-process sweep");

    List<String> appIds = new ArrayList<>();
    for (int partitions : PARTITIONS) {
      String what = "lopper sensitivity (CNN, " + partitions + " partitions)";
      LopperCluster.awaitSuccess(CNN_APPS.get(partitions), what);
      System.out.printf("%s done %.1f s after the first submission%n", what, LopperCluster.seconds(submitted));
      Path out = cnnOutput(partitions);
      JsonNode manifest = LopperCluster.assertRanOnCluster(out);
      assertEquals(partitions, manifest.path("results").path("partitions").asInt(), "partitions used");
      appIds.add(manifest.path("spark_application_id").asText());
      String table = LopperCluster.sensitivityCsv(out);
      SweepTables.assertSameTable(expected, table, what);
      SweepTables.assertMatchesPyTorch(table, "digits-cnn-sensitivity.csv", what);
    }
    assertEquals(3, appIds.stream().distinct().count(), "three applications: " + appIds);
    for (String appId : appIds) {
      assertModelLoadedInExecutors(appId);
    }
  }

  @Test
  void mlpSweepOnTheClusterEqualsTheSingleProcessSweepAndPyTorch() throws IOException {
    String expected = SweepTables.singleProcessCsv(SampleData.path("digits-mlp.onnx"),
        SampleData.path("digits-mlp.safetensors"), new long[] {64}, GRID, lopper.workDir().resolve("mlp-expected.csv"));
    String what = "lopper sensitivity (MLP, 3 partitions)";
    LopperCluster.awaitSuccess(mlpApp, what);
    System.out.printf("%s done %.1f s after the first submission%n", what, LopperCluster.seconds(submitted));
    JsonNode manifest = LopperCluster.assertRanOnCluster(mlpOutput());
    assertEquals(3, manifest.path("results").path("partitions").asInt(), "partitions used");
    String table = LopperCluster.sensitivityCsv(mlpOutput());
    SweepTables.assertSameTable(expected, table, what);
    SweepTables.assertMatchesPyTorch(table, "digits-mlp-sensitivity.csv", what);
    assertModelLoadedInExecutors(manifest.path("spark_application_id").asText());
  }

  @Test
  void pruneOnTheClusterVerifiesTheEmittedModelAsOneProcessEvaluatesIt() throws IOException {
    String what = "lopper prune (CNN, 3 partitions, output directory relative to the driver's)";
    LopperCluster.awaitSuccess(pruneApp, what);
    System.out.printf("%s done %.1f s after the first submission%n", what, LopperCluster.seconds(submitted));
    JsonNode manifest = LopperCluster.assertRanOnCluster(pruneOutput());
    assertTrue(manifest.path("gate").path("passed").asBoolean(), manifest.path("gate")::toString);
    SweepTables.assertMatchesPyTorch(LopperCluster.sensitivityCsv(pruneOutput()), "digits-cnn-sensitivity.csv", what);

    Map<String, Map<String, String>> verified = new LinkedHashMap<>();
    for (Map<String, String> row : SweepTables.rows(Files.readString(pruneOutput().resolve("verification.csv")))) {
      verified.put(row.get("model"), row);
    }
    Map<String, Double> dense = SweepTables.evaluate(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors"), new long[] {1, 8, 8});
    Map<String, Double> pruned = SweepTables.evaluate(pruneOutput().resolve("model/pruned.onnx").toString(), null,
        new long[] {1, 8, 8});
    for (String metric : List.of("accuracy", "loss", "f1_macro")) {
      assertEquals(dense.get(metric), Double.parseDouble(verified.get("dense").get(metric)), 0.0, "dense " + metric);
      assertEquals(pruned.get(metric), Double.parseDouble(verified.get("pruned").get(metric)), 0.0,
          "pruned " + metric);
    }
    assertNotEquals(dense.get("loss"), pruned.get("loss"), "the emitted model is pruned");
    assertEquals(0.7, manifest.path("results").path("sparsity").asDouble(), 0.01, "overall sparsity");
  }

  /**
   * The submitted fat jar carries the report's precompiled templates and JTE's runtime: the driver,
   * whose classes spark-submit loads from that jar, writes the whole page.
   */
  @Test
  void pruneOnTheClusterWritesItsReportFromTheFatJar() throws IOException {
    LopperCluster.awaitSuccess(pruneApp, "lopper prune (CNN, 3 partitions)");
    Path report = pruneOutput().resolve("report.html");
    assertTrue(Files.exists(report), () -> "no " + report + "; the driver's stderr:\n"
        + SubmittedApp.tail(pruneApp.stderrFile(), 40));
    String html = Files.readString(report);
    for (String id : List.of("summary", "sensitivity", "allocation", "density", "verification", "run")) {
      assertTrue(html.contains("<section id=\"" + id + "\">"), "report.html has no section " + id);
    }
    assertTrue(html.endsWith("</html>\n"), "report.html is complete");
  }

  /**
   * The sweep's tasks ran in executor JVMs launched by the worker: at least one of them loaded the model
   * (ExecutorModels logs it), and none loaded it twice. Every executor was launched with the options
   * submitted ({@link LopperCluster#EXECUTOR_OPTIONS}) followed by the C1-only JIT that Lopper's driver
   * adds to them (the worker writes the command at the top of the executor's stderr).
   */
  private static void assertModelLoadedInExecutors(String appId) throws IOException {
    int loaded = 0;
    List<Path> executors = lopper.executorDirs(appId);
    for (Path dir : executors) {
      String stderr = Files.readString(dir.resolve("stderr"));
      String command = stderr.lines().filter(l -> l.startsWith("Spark Executor Command:")).findFirst()
          .orElseThrow(() -> new AssertionError(dir + "/stderr has no executor command"));
      assertTrue(command.contains("\"" + LopperCluster.EXECUTOR_OPTIONS + "\" \"-XX:TieredStopAtLevel=1\""),
          dir + ": the executor was not launched with the submitted options followed by Lopper's JIT: " + command);
      long loads = stderr.lines().filter(l -> l.contains("ExecutorModels: Loaded")).count();
      assertTrue(loads <= 1, dir + " loaded the model " + loads + " times");
      loaded += (int) loads;
    }
    assertTrue(loaded >= 1, "no executor of " + appId + " loaded the model: " + executors);
  }
}
