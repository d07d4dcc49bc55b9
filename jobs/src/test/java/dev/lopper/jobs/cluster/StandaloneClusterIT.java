package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs {@link ProbeApp} on a real standalone cluster (one worker, two cores, two one-core executor JVMs)
 * and checks what only separate executor JVMs can show: short command lines, ONNX Runtime and ND4J shipped
 * with the application and working there, and recovery when an executor JVM is killed.
 */
class StandaloneClusterIT {
  /** ONNX Runtime 1.29's environment creation crashes above about 3.9 KB of /proc/self/cmdline. */
  private static final int ORT_CMDLINE_LIMIT = 3900;
  private static final Duration APP_TIMEOUT = Duration.ofMinutes(2);
  private static final Pattern MARKER = Pattern.compile("p(\\d+)-a(\\d+)-pid(\\d+)\\.started");

  private static Path workDir;
  private static StandaloneCluster cluster;
  private static Path probeJar;
  private static List<String> probeConf;

  @BeforeAll
  static void startCluster() throws IOException {
    workDir = BuildClasspath.workRoot().resolve("StandaloneClusterIT");
    int leftovers = StandaloneCluster.killLeftovers(workDir);
    if (leftovers > 0) {
      System.out.println("killed " + leftovers + " processes left by an earlier run in " + workDir);
    }
    deleteRecursively(workDir);
    Files.createDirectories(workDir);

    long start = System.nanoTime();
    cluster = StandaloneCluster.start(workDir.resolve("cluster"), 1, 2, "2g");
    System.out.printf("standalone cluster (master + 1 worker) up in %.1f s%n", seconds(start));

    probeJar = Jars.write(workDir.resolve("probe.jar"), BuildClasspath.testClasses(),
        path -> path.startsWith("dev/lopper/jobs/cluster/ProbeApp"));
    List<String> shipped = new ArrayList<>();
    for (Path jar : BuildClasspath.applicationOnlyJars()) {
      shipped.add(Jars.asJar(jar, workDir.resolve("jars")).toString());
    }
    // C1 only and one GC thread: these JVMs run for seconds on two shared cores, where JIT threads cost most.
    String quickStart = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
    probeConf = List.of("spark.jars=" + String.join(",", shipped), "spark.executor.cores=1",
        "spark.executor.memory=768m", "spark.driver.memory=768m", "spark.driver.extraJavaOptions=" + quickStart,
        "spark.executor.extraJavaOptions=" + quickStart);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (cluster != null) {
      cluster.close();
    }
    // Executors fetch their own copy of every shipped jar (about 160 MB); the logs stay for reading.
    if (workDir != null && Files.isDirectory(workDir.resolve("cluster"))) {
      try (Stream<Path> files = Files.walk(workDir.resolve("cluster"))) {
        for (Path jar : files.filter(p -> p.toString().endsWith(".jar") && Files.isRegularFile(p,
            java.nio.file.LinkOption.NOFOLLOW_LINKS) && p.toString().contains("/worker-")).collect(Collectors.toList())) {
          Files.delete(jar);
        }
      }
    }
  }

  @Test
  void executorJvmsRunOnnxRuntimeAndNd4jWithShortCommandLines() throws IOException {
    Path markers = Files.createDirectories(workDir.resolve("markers-probe"));
    long start = System.nanoTime();
    SubmittedApp app = cluster.submit(probeJar, ProbeApp.class.getName(), probeConf,
        List.of("4", "500", markers.toString()));

    // Every executor the worker launches, whether or not it gets a task, must have a short command line.
    Map<Long, Integer> cmdlineBytes = new LinkedHashMap<>();
    for (long pid : cluster.awaitExecutors(2, APP_TIMEOUT)) {
      cmdlineBytes.put(pid, Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")).length);
    }
    int exit = app.waitFor(APP_TIMEOUT);
    System.out.printf("probe app (4 tasks of 0.5 s) finished in %.1f s; executor command lines: %s bytes%n",
        seconds(start), cmdlineBytes);
    assertEquals(0, exit, app::stderr);
    cmdlineBytes.forEach((pid, bytes) -> assertTrue(bytes < ORT_CMDLINE_LIMIT,
        "executor " + pid + " has a " + bytes + "-byte command line"));

    Map<String, String> driver = driver(app);
    long driverPid = Long.parseLong(driver.get("pid"));
    assertEquals(app.pid(), driverPid, "the driver is the JVM that submit() started");
    System.out.println("driver command line: " + driver.get("cmdlineBytes") + " bytes");
    assertTrue(Integer.parseInt(driver.get("cmdlineBytes")) < ORT_CMDLINE_LIMIT, driver::toString);
    List<Long> workerPids = cluster.workerPids();
    List<Map<String, String>> probes = probes(app);
    assertEquals(Set.of("0", "1", "2", "3"), probes.stream().map(p -> p.get("partition")).collect(Collectors.toSet()));
    for (Map<String, String> probe : probes) {
      long pid = Long.parseLong(probe.get("pid"));
      assertNotEquals(driverPid, pid, "a task ran in the driver JVM");
      assertTrue(workerPids.contains(Long.parseLong(probe.get("ppid"))),
          "a task ran in a JVM that the worker did not launch: " + probe);
      assertTrue(Integer.parseInt(probe.get("cmdlineBytes")) < ORT_CMDLINE_LIMIT, probe::toString);
      // y = x + x for x = (1.5, -2, 3); [[1, 2], [3, 4]] x [[5, 6], [7, 8]] = [[19, 22], [43, 50]].
      assertEquals("3.0,-4.0,6.0", probe.get("ortOutput"));
      assertEquals("19.0,22.0,43.0,50.0", probe.get("nd4jProduct"));
      assertEquals("1", probe.get("omp"));
      // The classes come from the jars the application shipped, fetched into the executor's directory.
      for (String jar : List.of("ortJar", "nd4jJar", "commonJar")) {
        assertTrue(probe.get(jar).contains("/cluster/worker-0/app-"), jar + " of " + probe);
      }
    }
  }

  @Test
  void finishesEveryTaskWhenAnExecutorJvmIsKilled() throws IOException, InterruptedException {
    Path markers = Files.createDirectories(workDir.resolve("markers-kill"));
    long start = System.nanoTime();
    SubmittedApp app = cluster.submit(probeJar, ProbeApp.class.getName(), probeConf,
        List.of("8", "3000", markers.toString()));

    Matcher running = awaitFirstMarker(markers, app);
    int lostPartition = Integer.parseInt(running.group(1));
    long victim = Long.parseLong(running.group(3));
    Set<Long> before = new HashSet<>(cluster.executorPids());
    assertTrue(before.contains(victim), "task marker names PID " + victim + ", executors are " + before);
    cluster.killExecutor(victim);
    System.out.printf("killed executor %d (running partition %d) %.1f s after submission%n", victim, lostPartition,
        seconds(start));
    assertFalse(ProcessHandle.of(victim).map(ProcessHandle::isAlive).orElse(false));

    long killed = System.nanoTime();
    Optional<Long> replacement = Optional.empty();
    while (replacement.isEmpty() && app.isAlive() && seconds(killed) < 60) {
      replacement = cluster.executorPids().stream().filter(pid -> !before.contains(pid)).findFirst();
      Thread.sleep(100);
    }
    assertTrue(replacement.isPresent(), "the worker launched no replacement executor\n" + app.stderr());
    System.out.printf("replacement executor %d up %.1f s after the kill%n", replacement.get(), seconds(killed));

    int exit = app.waitFor(APP_TIMEOUT);
    System.out.printf("probe app (8 tasks of 3 s, one executor killed) finished in %.1f s%n", seconds(start));
    assertEquals(0, exit, app::stderr);
    List<Map<String, String>> probes = probes(app);
    Map<String, Map<String, String>> byPartition = new HashMap<>();
    for (Map<String, String> probe : probes) {
      assertEquals(null, byPartition.put(probe.get("partition"), probe), "partition reported twice");
      assertNotEquals(String.valueOf(victim), probe.get("pid"), "a result came from the killed executor");
      assertEquals("19.0,22.0,43.0,50.0", probe.get("nd4jProduct"));
      assertEquals("3.0,-4.0,6.0", probe.get("ortOutput"));
    }
    assertEquals(new TreeSet<>(List.of("0", "1", "2", "3", "4", "5", "6", "7")), new TreeSet<>(byPartition.keySet()));
    assertTrue(Integer.parseInt(byPartition.get(String.valueOf(lostPartition)).get("attempt")) >= 1,
        "partition " + lostPartition + " was running on the killed executor and must have been rerun: "
            + byPartition.get(String.valueOf(lostPartition)));
  }

  /** Waits for the first task marker of {@code app}: proof that a task runs, and in which executor. */
  private static Matcher awaitFirstMarker(Path markers, SubmittedApp app) throws IOException, InterruptedException {
    long start = System.nanoTime();
    while (seconds(start) < APP_TIMEOUT.toSeconds()) {
      try (Stream<Path> files = Files.list(markers)) {
        Optional<Matcher> first = files.map(f -> MARKER.matcher(f.getFileName().toString()))
            .filter(Matcher::matches).findFirst();
        if (first.isPresent()) {
          return first.get();
        }
      }
      if (!app.isAlive()) {
        fail("the application exited before any task started\n" + app.stderr());
      }
      Thread.sleep(50);
    }
    return fail("no task started within " + APP_TIMEOUT + "\n" + app.stderr());
  }

  private static List<Map<String, String>> probes(SubmittedApp app) {
    List<Map<String, String>> probes = new ArrayList<>();
    for (String line : app.stdout().lines().filter(l -> l.startsWith("PROBE\t")).collect(Collectors.toList())) {
      probes.add(fields(line.substring("PROBE\t".length())));
    }
    assertTrue(app.stdout().contains("PROBE-DONE\ttasks=" + probes.size()), app::stdout);
    return probes;
  }

  /** The driver's {@code DRIVER} line: its PID and command-line length. */
  private static Map<String, String> driver(SubmittedApp app) {
    String line = app.stdout().lines().filter(l -> l.startsWith("DRIVER\t")).findFirst()
        .orElseGet(() -> fail("no DRIVER line\n" + app.stdout()));
    return fields(line.substring("DRIVER\t".length()));
  }

  private static Map<String, String> fields(String tabSeparated) {
    Map<String, String> fields = new LinkedHashMap<>();
    for (String field : tabSeparated.split("\t")) {
      int eq = field.indexOf('=');
      fields.put(field.substring(0, eq), field.substring(eq + 1));
    }
    return fields;
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
        Files.delete(p);
      }
    }
  }
}
