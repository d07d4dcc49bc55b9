package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.cli.Lopper;
import dev.lopper.jobs.pipeline.Pipeline;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An executor JVM killed (SIGKILL, by its PID) while sequential SparseGPT calibration runs on the standalone
 * cluster, in the second pass or later: Spark reruns the lost calibration task (and recomputes the chunk
 * pieces, cached calibration rows and persisted frontier values of earlier steps that the executor held, from
 * their lineage), and {@code calibration/statistics.safetensors}, {@code masks.safetensors} and {@code
 * model/pruned.safetensors} are byte for byte those of the same prune run undisturbed in local mode, in this
 * JVM, with one data partition.
 *
 * <p>The tiny LM's 112 rows calibrate in chunks of one row ({@code data.batch-size=1}): 112 chunks in 8 tasks
 * per pass, three passes (two blocks, then the head), several seconds in two one-core executors, so that a
 * calibration task of the second pass is still running when an executor that loaded the model is killed.
 */
class CalibrationKillIT {
  private static final int ROWS = 112;
  private static final int PARTITIONS = 8;
  /** The outputs that must not depend on the partitioning or on a lost executor. */
  private static final List<String> OUTPUTS = List.of("calibration/statistics.safetensors", "masks.safetensors",
      "model/pruned.safetensors");

  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("CalibrationKillIT", 1);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  /** {@code lopper prune} with sequential SparseGPT on the tiny LM, at 50% in every tensor. */
  private static List<String> prune(String model, String data, Path out, int partitions) {
    return List.of("prune", "--model", model, "--data", data, "--metric", "perplexity", "--out", out.toString(),
        "--set", "sweep.criterion=sparsegpt", "--set", "allocation.policy=uniform",
        "--set", "allocation.target=0.5", "--set", "calibration.sequential=true",
        "--set", "calibration.rows=" + ROWS, "--set", "data.batch-size=1", "--set", "gate.max-drop=null",
        "--set", "data.partitions=" + partitions);
  }

  @Test
  void calibrationSurvivesAKilledExecutorWithIdenticalOutputs() throws Exception {
    Path disturbed = lopper.workDir().resolve("disturbed");
    Path local = lopper.workDir().resolve("local");
    long start = System.nanoTime();
    // Paths relative to the driver's working directory (the repository), as a user submits them.
    SubmittedApp app = lopper.submit(prune("data/tiny-lm.onnx", "data/tiny-lm-val.parquet", disturbed, PARTITIONS)
        .toArray(String[]::new));
    // The reference runs meanwhile, in this JVM: the kill is timed by the executors' logs, not by the clock.
    CompletableFuture<String> reference = CompletableFuture.supplyAsync(() -> runLocally(
        prune(SampleData.path("tiny-lm.onnx"), SampleData.path("tiny-lm-val.parquet"), local, 1)));

    String appId = LopperCluster.awaitApplicationId(app);
    long victim = lopper.awaitExecutorWithModel(app, appId, "calibration");
    // Killed in the second pass or later: the executor then holds persisted frontier values of the previous
    // step (sequential calibration's held activations), which Spark must recompute from their lineage.
    long deadline = System.nanoTime() + 180_000_000_000L;
    while (!app.stderr().contains("tensors already pruned") && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    // Into the pass's tasks, not past them: the second pass's 8 tasks take about 1.5 s in all on this
    // cluster (a 1.5 s wait once landed in the third pass, whose one short task may run on the other
    // executor, and no task was lost).
    Thread.sleep(300);
    String driverAtKill = app.stderr();
    lopper.cluster().killExecutor(victim);
    double killedAt = LopperCluster.seconds(start);
    assertFalse(ProcessHandle.of(victim).map(ProcessHandle::isAlive).orElse(false), "executor " + victim + " lives");
    long passes = driverAtKill.lines().filter(l -> l.contains("CalibrationJob: Starting calibration")).count();
    System.out.printf("killed executor %d in calibration pass %d of 3, %.1f s after submission%n", victim, passes,
        killedAt);
    assertTrue(passes >= 2, "the driver had not started the second calibration pass when the executor was killed:\n"
        + driverAtKill);
    assertFalse(driverAtKill.contains("model/pruned.onnx"),
        "the driver had already written the pruned model when the executor was killed:\n" + driverAtKill);

    LopperCluster.awaitSuccess(app, "the prune with a killed executor");
    System.out.printf("prune with a killed executor done in %.1f s%n", LopperCluster.seconds(start));
    String driverLog = app.stderr();
    assertTrue(driverLog.contains("Lost executor"), "the driver did not report the lost executor:\n" + driverLog);
    assertTrue(driverLog.contains("ExecutorLostFailure"), "no task was lost with the executor:\n" + driverLog);
    System.out.printf("cached blocks lost with the executor: %d%n",
        driverLog.lines().filter(l -> l.contains("No more replicas available for rdd_")).count());
    JsonNode manifest = LopperCluster.assertRanOnCluster(disturbed);
    assertEquals(appId, manifest.path("spark_application_id").asText(), "the application whose executor was killed");
    assertEquals(PARTITIONS, manifest.path("results").path("partitions").asInt(), "partitions used");

    String localOutput = reference.join();
    System.out.printf("undisturbed local run (1 partition) done %.1f s after the submission%n",
        LopperCluster.seconds(start));
    for (String file : OUTPUTS) {
      byte[] expected = Files.readAllBytes(local.resolve(file));
      byte[] actual = Files.readAllBytes(disturbed.resolve(file));
      long at = Arrays.mismatch(expected, actual);
      if (at >= 0) {
        fail(file + " of the cluster run with a killed executor (" + actual.length + " bytes) differs from that of"
            + " the undisturbed local run (" + expected.length + " bytes) from byte " + at + "\n" + localOutput);
      }
    }
  }

  /** Runs {@code lopper <args>} in local mode in this JVM, asserts that it succeeded, and returns its output. */
  private static String runLocally(List<String> args) {
    List<String> all = new ArrayList<>(args);
    all.addAll(List.of("--master", "local[2]"));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ExitCode exit = Lopper.run(all.toArray(String[]::new), new Pipeline(),
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    String output = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    assertEquals(ExitCode.SUCCESS, exit, () -> "the local run failed:\n" + output);
    return output;
  }
}
