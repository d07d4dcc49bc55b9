package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An executor JVM killed (SIGKILL, by its PID) while the sensitivity sweep runs on the standalone cluster:
 * Spark reruns the lost tasks (and recomputes the lost cached partitions) on the surviving and replacement
 * executors, and the table is identical to that of the same command run undisturbed.
 */
class ExecutorKillIT {
  /**
   * 19 grid points, 8 partitions and batches of one row: each task evaluates 77 variants on 45 rows in 45
   * batches, a few seconds, so that a task is still running when its executor is killed (the executor is
   * killed right after its first sweep task has loaded the model).
   */
  private static final double[] GRID = IntStream.rangeClosed(1, 19).mapToDouble(i -> i / 20.0).toArray();
  private static final String GRID_TEXT = "[" + IntStream.rangeClosed(1, 19).mapToObj(i -> String.valueOf(i / 20.0))
      .collect(Collectors.joining(",")) + "]";

  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("ExecutorKillIT", 1);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  private static SubmittedApp sweep(Path out) {
    return lopper.submit("sensitivity", "--config", "conf/digits-cnn.yaml", "--set", "output.dir=" + out,
        "--set", "data.partitions=8", "--set", "data.batch-size=1", "--set", "sweep.sparsities=" + GRID_TEXT);
  }

  @Test
  void sweepSurvivesAKilledExecutorWithAnIdenticalTable() throws IOException, InterruptedException {
    String expected = SweepTables.singleProcessCsv(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors"), new long[] {1, 8, 8}, GRID, lopper.workDir().resolve("expected.csv"));

    // Both submitted at once: the master runs one after the other, in the order they register, and the
    // second driver starts while the first application runs.
    Path undisturbed = lopper.workDir().resolve("undisturbed");
    Path disturbed = lopper.workDir().resolve("disturbed");
    long start = System.nanoTime();
    SubmittedApp quiet = sweep(undisturbed);
    SubmittedApp app = sweep(disturbed);

    String appId = LopperCluster.awaitApplicationId(app);
    long victim = lopper.awaitExecutorWithModel(app, appId, "sweep");
    Set<Long> before = new HashSet<>(lopper.cluster().executorPids());
    lopper.cluster().killExecutor(victim);
    System.out.printf("killed executor %d while it ran sweep tasks, %.1f s after submission%n", victim,
        LopperCluster.seconds(start));
    assertFalse(ProcessHandle.of(victim).map(ProcessHandle::isAlive).orElse(false), "executor " + victim + " lives");

    long killed = System.nanoTime();
    Optional<Long> replacement = Optional.empty();
    while (replacement.isEmpty() && app.isAlive() && LopperCluster.seconds(killed) < 60) {
      replacement = lopper.cluster().executorPids().stream()
          .filter(pid -> !before.contains(pid)
              && LopperCluster.executorDir(pid).map(d -> LopperCluster.isOf(d, appId)).orElse(false))
          .findFirst();
      Thread.sleep(100);
    }
    double replacedAfter = LopperCluster.seconds(killed);
    LopperCluster.awaitSuccess(app, "the sweep with a killed executor");
    System.out.printf("sweep with a killed executor done in %.1f s; replacement executor %s%n",
        LopperCluster.seconds(start),
        replacement.map(pid -> pid + String.format(" up %.1f s after the kill", replacedAfter)).orElse("not seen"));
    assertTrue(replacement.isPresent(), "the worker launched no replacement executor while the application ran");

    // The driver's log says that the killed executor's tasks were lost, and so had to be run again.
    String driverLog = app.stderr();
    assertTrue(driverLog.contains("Lost executor"), "the driver did not report the lost executor:\n" + driverLog);
    assertTrue(driverLog.contains("ExecutorLostFailure"), "no task was lost with the executor:\n" + driverLog);

    LopperCluster.awaitSuccess(quiet, "the undisturbed sweep");
    System.out.printf("undisturbed sweep (CNN, 8 partitions, %d sparsities, batches of 1) done %.1f s after the"
        + " submissions%n", GRID.length, LopperCluster.seconds(start));
    LopperCluster.assertRanOnCluster(undisturbed);
    String undisturbedTable = LopperCluster.sensitivityCsv(undisturbed);
    SweepTables.assertSameTable(expected, undisturbedTable, "the undisturbed sweep against the single-process sweep");

    JsonNode manifest = LopperCluster.assertRanOnCluster(disturbed);
    assertEquals(appId, manifest.path("spark_application_id").asText(), "the application whose executor was killed");
    SweepTables.assertSameTable(undisturbedTable, LopperCluster.sensitivityCsv(disturbed),
        "the sweep with a killed executor against the undisturbed sweep");
  }
}
