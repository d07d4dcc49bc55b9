package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.nio.file.Files;
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
  /** 19 grid points and batches of 8: about 80 variants × 45 batches per partition, seconds per task. */
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
        "--set", "data.partitions=8", "--set", "data.batch-size=8", "--set", "sweep.sparsities=" + GRID_TEXT);
  }

  @Test
  void sweepSurvivesAKilledExecutorWithAnIdenticalTable() throws IOException, InterruptedException {
    String expected = SweepTables.singleProcessCsv(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors"), new long[] {1, 8, 8}, GRID, lopper.workDir().resolve("expected.csv"));

    Path undisturbed = lopper.workDir().resolve("undisturbed");
    long start = System.nanoTime();
    SubmittedApp first = sweep(undisturbed);
    LopperCluster.awaitSuccess(first, "the undisturbed sweep");
    System.out.printf("undisturbed sweep (CNN, 8 partitions, %d sparsities, batches of 8) done in %.1f s%n",
        GRID.length, LopperCluster.seconds(start));
    LopperCluster.assertRanOnCluster(undisturbed);
    String undisturbedTable = LopperCluster.sensitivityCsv(undisturbed);
    SweepTables.assertSameTable(expected, undisturbedTable, "undisturbed sweep against the single-process sweep");

    Path disturbed = lopper.workDir().resolve("disturbed");
    start = System.nanoTime();
    SubmittedApp app = sweep(disturbed);
    String appId = awaitApplicationId(app);
    long victim = awaitExecutorRunningTheSweep(app, appId);
    Set<Long> before = new HashSet<>(lopper.cluster().executorPids());
    lopper.cluster().killExecutor(victim);
    System.out.printf("killed executor %d while it ran sweep tasks, %.1f s after submission%n", victim,
        LopperCluster.seconds(start));
    assertFalse(ProcessHandle.of(victim).map(ProcessHandle::isAlive).orElse(false), "executor " + victim + " lives");

    long killed = System.nanoTime();
    Optional<Long> replacement = Optional.empty();
    while (replacement.isEmpty() && app.isAlive() && LopperCluster.seconds(killed) < 60) {
      replacement = lopper.cluster().executorPids().stream().filter(pid -> !before.contains(pid)).findFirst();
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

    JsonNode manifest = LopperCluster.assertRanOnCluster(disturbed);
    assertTrue(manifest.path("spark_application_id").asText().equals(appId), manifest::toString);
    SweepTables.assertSameTable(undisturbedTable, LopperCluster.sensitivityCsv(disturbed),
        "the sweep with a killed executor against the undisturbed sweep");
  }

  /** The application's standalone id, once the master lists it. */
  private static String awaitApplicationId(SubmittedApp app) throws IOException, InterruptedException {
    long start = System.nanoTime();
    while (LopperCluster.seconds(start) < LopperCluster.APP_TIMEOUT.toSeconds()) {
      for (JsonNode active : lopper.cluster().masterState().path("activeapps")) {
        return active.path("id").asText();
      }
      if (!app.isAlive()) {
        fail("the application exited before it registered with the master\n" + app.stderr());
      }
      Thread.sleep(100);
    }
    return fail("the application did not register within " + LopperCluster.APP_TIMEOUT + "\n" + app.stderr());
  }

  /**
   * Waits until an executor of {@code appId} has started running sweep tasks (it has loaded the model, which
   * the first sweep task in a JVM does) and returns its PID. An executor's working directory is its log
   * directory, which is how a PID is matched with its log.
   */
  private static long awaitExecutorRunningTheSweep(SubmittedApp app, String appId)
      throws IOException, InterruptedException {
    long start = System.nanoTime();
    while (LopperCluster.seconds(start) < LopperCluster.APP_TIMEOUT.toSeconds()) {
      for (long pid : lopper.cluster().executorPids()) {
        Path dir;
        try {
          dir = Path.of("/proc/" + pid + "/cwd").toRealPath();
        } catch (IOException gone) {
          continue;
        }
        Path stderr = dir.resolve("stderr");
        if (dir.getParent().getFileName().toString().equals(appId) && Files.exists(stderr)
            && Files.readString(stderr).contains("ExecutorModels: Loaded")) {
          return pid;
        }
      }
      if (!app.isAlive()) {
        fail("the application exited before any executor ran a sweep task\n" + app.stderr());
      }
      Thread.sleep(50);
    }
    return fail("no executor ran a sweep task within " + LopperCluster.APP_TIMEOUT + "\n" + app.stderr());
  }
}
