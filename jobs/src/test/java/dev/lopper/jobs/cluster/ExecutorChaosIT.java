package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Chaos on the standalone cluster: while the sample language model's sensitivity sweep runs, executor JVMs
 * are SIGKILLed one after the other ({@link #KILLS} of them, at least {@link #PAUSE_MILLIS} apart, each one
 * an executor of the application that has loaded the model, so it was running sweep tasks), and the worker
 * launches replacements. The run must complete and its {@code sensitivity.csv} must be byte for byte that of
 * the same command run undisturbed on the same cluster, which must itself have PyTorch's perplexities.
 *
 * <p>Why {@link #KILLS} is 3: Spark counts an executor that exits on a signal against the tasks it was running
 * (the standalone scheduler reports its exit code as caused by the application, and a lost RPC connection is
 * reported the same way), and a failed task is retried first by the next free executor. Killing whichever
 * executor runs the model therefore often hits the same task again, and with {@code spark.task.maxFailures}
 * at its default of 4 a fourth loss of one task would fail the job by design. Likewise, executors killed
 * together take the data's shuffle outputs with them, and the sweep stage is attempted again after a
 * {@code FetchFailed}, at most {@code spark.stage.maxConsecutiveAttempts} (4) times in a row. Three kills are
 * the most that the defaults survive whatever the timing, so the test cannot be flaky on that account; {@code
 * spark.excludeOnFailure.enabled} is left at its default (off), without which two failed executors could
 * exclude the cluster's only worker host.
 */
class ExecutorChaosIT {
  /** How many executors are killed: one less than Spark's default {@code spark.task.maxFailures}. */
  private static final int KILLS = 3;
  /** The least time between two kills. */
  private static final long PAUSE_MILLIS = 3_000;
  /**
   * Partitions of the 112 rows: sweep tasks of 14 rows, about 10 s each in batches of one row (the sweep
   * stage took 44 s undisturbed), long enough for three kills and two rounds of replacement executors.
   */
  private static final int PARTITIONS = 8;
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  /** The driver's line for a task lost with its executor: task index, attempt, stage. */
  private static final Pattern LOST_TASK = Pattern.compile("Lost task (\\d+)\\.(\\d+) in stage (\\d+)\\.\\d+");

  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("ExecutorChaosIT", 1);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  /**
   * {@code lopper sensitivity} of the tiny LM with the sample configuration, in {@code PARTITIONS} partitions
   * and batches of {@code batchSize} rows. The table does not depend on the batch size (each row's outputs do
   * not, and the sums are exact), so the undisturbed run uses the sample's 16 and takes a quarter of the time.
   */
  private static SubmittedApp sweep(Path out, int batchSize) {
    return lopper.submit("sensitivity", "--config", "conf/tiny-lm.yaml", "--set", "output.dir=" + out,
        "--set", "data.partitions=" + PARTITIONS, "--set", "data.batch-size=" + batchSize);
  }

  @Test
  void languageModelSweepSurvivesRepeatedExecutorKillsWithAnIdenticalTable() throws Exception {
    Path undisturbed = lopper.workDir().resolve("undisturbed");
    Path disturbed = lopper.workDir().resolve("disturbed");
    long start = System.nanoTime();
    // The undisturbed run first: the master runs applications in the order they register, each with both
    // cores, so the second is submitted once the first has its executors, and its driver starts meanwhile.
    SubmittedApp quiet = sweep(undisturbed, 16);
    LopperCluster.awaitApplicationId(quiet);
    SubmittedApp app = sweep(disturbed, 1);
    String appId = LopperCluster.awaitApplicationId(app);
    LopperCluster.awaitSuccess(quiet, "the undisturbed sweep");
    System.out.printf("undisturbed sweep done %.1f s after the submissions%n", LopperCluster.seconds(start));
    List<Long> killed = new ArrayList<>();
    long lastKill = 0;
    while (killed.size() < KILLS && app.isAlive()) {
      Optional<Long> victim = executorRunningTheModel(appId);
      if (victim.isEmpty() || System.nanoTime() - lastKill < PAUSE_MILLIS * 1_000_000) {
        Thread.sleep(50);
        continue;
      }
      lopper.cluster().killExecutor(victim.get());
      lastKill = System.nanoTime();
      killed.add(victim.get());
      assertFalse(ProcessHandle.of(victim.get()).map(ProcessHandle::isAlive).orElse(false),
          "executor " + victim.get() + " lives");
      System.out.printf("kill %d: executor %d, %.1f s after the submissions; live executors of %s now %s%n",
          killed.size(), victim.get(), LopperCluster.seconds(start), appId, executorsOf(appId));
    }
    LopperCluster.awaitSuccess(app, "the sweep whose executors were killed");
    System.out.printf("sweep with %d executors killed done %.1f s after the submissions%n", killed.size(),
        LopperCluster.seconds(start));
    assertEquals(KILLS, killed.size(), "executors killed while the sweep ran (the sweep ended first)");

    String driverLog = app.stderr();
    long lostExecutors = driverLog.lines().filter(l -> l.contains("Lost executor")).count();
    assertTrue(lostExecutors >= KILLS, "the driver reported " + lostExecutors + " lost executors:\n" + driverLog);
    assertTrue(driverLog.contains("ExecutorLostFailure"), "no task was lost with an executor:\n" + driverLog);
    System.out.printf("lost tasks (task.attempt in stage): %s; executor directories of %s: %d%n",
        lostTasks(driverLog), appId, lopper.executorDirs(appId).size());
    assertTrue(lopper.executorDirs(appId).size() >= 2 + KILLS,
        "the worker launched no replacement for every killed executor: " + lopper.executorDirs(appId));

    JsonNode manifest = LopperCluster.assertRanOnCluster(disturbed);
    assertEquals(appId, manifest.path("spark_application_id").asText(), "the application whose executors were killed");
    assertEquals(PARTITIONS, manifest.path("results").path("partitions").asInt(), "partitions used");
    String undisturbedTable = LopperCluster.sensitivityCsv(undisturbed);
    assertMatchesPyTorch(undisturbedTable);
    SweepTables.assertSameTable(undisturbedTable, LopperCluster.sensitivityCsv(disturbed),
        "the sweep with " + KILLS + " executors killed against the undisturbed sweep");
  }

  /**
   * A live executor of {@code appId} that has loaded the model (ExecutorModels logs it when a task first
   * evaluates the model in that JVM), the most recently launched first.
   */
  private static Optional<Long> executorRunningTheModel(String appId) throws IOException {
    List<Long> pids = new ArrayList<>(lopper.cluster().executorPids());
    java.util.Collections.reverse(pids);
    for (long pid : pids) {
      Optional<Path> dir = LopperCluster.executorDir(pid);
      if (dir.isPresent() && LopperCluster.isOf(dir.get(), appId) && Files.exists(dir.get().resolve("stderr"))
          && Files.readString(dir.get().resolve("stderr")).contains("ExecutorModels: Loaded")) {
        return Optional.of(pid);
      }
    }
    return Optional.empty();
  }

  private static Set<Long> executorsOf(String appId) {
    Set<Long> of = new HashSet<>();
    for (long pid : lopper.cluster().executorPids()) {
      if (LopperCluster.executorDir(pid).map(d -> LopperCluster.isOf(d, appId)).orElse(false)) {
        of.add(pid);
      }
    }
    return of;
  }

  /** The driver's "Lost task i.a in stage s" lines, as {@code s:i.a}. */
  private static List<String> lostTasks(String driverLog) {
    List<String> lost = new ArrayList<>();
    Matcher m = LOST_TASK.matcher(driverLog);
    while (m.find()) {
      lost.add(m.group(3) + ":" + m.group(1) + "." + m.group(2));
    }
    return lost.stream().distinct().toList();
  }

  /** Every row's perplexity within 1e-4 relative of PyTorch's ({@code data/reference/tiny-lm-sensitivity.csv}). */
  private static void assertMatchesPyTorch(String table) {
    Map<String, Map<String, String>> torch = new java.util.HashMap<>();
    for (Map<String, String> row : dev.lopper.fixtures.ReferenceCsv.read("tiny-lm-sensitivity.csv")) {
      torch.put((row.get("tensor").isEmpty() ? "(dense)" : row.get("tensor")) + "@" + row.get("sparsity"), row);
    }
    List<Map<String, String>> rows = SweepTables.rows(table);
    assertEquals(1 + 13 * GRID.length, rows.size(), "rows of the undisturbed table");
    for (Map<String, String> row : rows) {
      Map<String, String> expected = torch.get(row.get("tensor") + "@" + Double.parseDouble(row.get("sparsity")));
      double ppl = Double.parseDouble(expected.get("perplexity"));
      assertEquals(ppl, Double.parseDouble(row.get("perplexity")), 1e-4 * ppl, "undisturbed: " + row);
    }
  }
}
