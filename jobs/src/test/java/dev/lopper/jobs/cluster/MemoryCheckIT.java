package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The memory check on the standalone cluster: a sweep of the tiny LM whose executors would get less heap
 * than Spark accepts is refused by the driver with exit 2 and one line of figures, before any task runs
 * (no executor log shows a task, no run directory is written); the same sweep with executors of 512 MiB
 * and one core, which the estimate says fit, runs to the end.
 */
class MemoryCheckIT {
  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("MemoryCheckIT", 2);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  private static SubmittedApp sweep(Path out, String executorMemory, int cores) {
    return lopper.submit("sensitivity", "--config", "conf/tiny-lm.yaml", "--set", "output.dir=" + out,
        "--set", "spark.conf.spark.executor.memory=" + executorMemory,
        "--set", "spark.conf.spark.executor.cores=" + cores);
  }

  @Test
  void executorsTooSmallForSparkAreRefusedBeforeAnyTaskAndOnesThatFitRun() throws IOException, InterruptedException {
    Path refusedOut = lopper.workDir().resolve("refused");
    Path fitsOut = lopper.workDir().resolve("fits");
    long start = System.nanoTime();
    SubmittedApp refused = sweep(refusedOut, "400m", 2);
    int exit = refused.waitFor(LopperCluster.APP_TIMEOUT);
    System.out.printf("executors of 400 MiB: exit %d after %.1f s%n", exit, LopperCluster.seconds(start));
    String err = refused.stderr();
    assertEquals(2, exit, err);
    String line = err.lines().filter(l -> l.startsWith("lopper: error:")).findFirst().orElse("");
    System.out.println(line);
    assertTrue(line.startsWith("lopper: error: memory: an executor's heap needs about 450.0 MiB"), err);
    assertTrue(line.contains("but gets 400.0 MiB (spark.executor.memory); raise spark.executor.memory"), line);
    assertFalse(Files.exists(refusedOut), "no run directory");
    assertFalse(err.contains("lopper: checksums"), "no Spark job started:\n" + err);
    for (Path executor : executorDirsOfAllApps()) {
      String log = Files.readString(executor.resolve("stderr"));
      assertFalse(log.contains("Running task"), executor + " ran a task:\n" + log);
    }

    long fitsStart = System.nanoTime();
    SubmittedApp fits = sweep(fitsOut, "512m", 1);
    // Each executor's peak resident set (VmHWM), sampled while the application runs, for the estimate's
    // constants (docs/cluster.md, "Memory checked before the run").
    java.util.Map<Long, Long> peakKib = new java.util.TreeMap<>();
    while (fits.isAlive()) {
      for (long pid : lopper.cluster().executorPids()) {
        peakRss(pid).ifPresent(kib -> peakKib.merge(pid, kib, Math::max));
      }
      Thread.sleep(200);
    }
    LopperCluster.awaitSuccess(fits, "the sweep with executors of 512 MiB and one core");
    System.out.printf("executors of 512 MiB, one core: done in %.1f s; executors' peak resident sets (KiB): %s%n",
        LopperCluster.seconds(fitsStart), peakKib);
    LopperCluster.assertRanOnCluster(fitsOut);
    assertEquals(1 + 13 * 9, SweepTables.rows(LopperCluster.sensitivityCsv(fitsOut)).size(), "rows");
  }

  /** A live process's peak resident set in KiB ({@code VmHWM} of {@code /proc/<pid>/status}). */
  private static java.util.Optional<Long> peakRss(long pid) {
    try {
      return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmHWM:"))
          .map(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst();
    } catch (IOException | RuntimeException gone) {
      return java.util.Optional.empty();
    }
  }

  /** Every executor directory the worker made, of any application. */
  private static java.util.List<Path> executorDirsOfAllApps() throws IOException {
    java.util.List<Path> dirs = new java.util.ArrayList<>();
    Path worker = lopper.cluster().workerDir(0);
    if (!Files.isDirectory(worker)) {
      return dirs;
    }
    try (var apps = Files.list(worker)) {
      for (Path app : apps.filter(Files::isDirectory).toList()) {
        dirs.addAll(lopper.executorDirs(app.getFileName().toString()));
      }
    }
    return dirs.stream().filter(d -> Files.exists(d.resolve("stderr"))).toList();
  }
}
