package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Lopper's real fat jar on a {@link StandaloneCluster}: one worker of two cores whose applications get one
 * or two executor JVMs, and commands submitted as a user would, with
 * {@code spark-submit --class dev.lopper.jobs.cli.Lopper lopper-jobs-<version>-all.jar <command> ...} run from
 * the repository's root directory (so the sample configuration's relative paths resolve on the driver, and
 * only there).
 *
 * <pre>{@code
 * try (LopperCluster lopper = LopperCluster.start("MyIT", 1)) {
 *   SubmittedApp app = lopper.submit("sensitivity", "--config", "conf/digits-cnn.yaml", "--set", "output.dir=" + out);
 *   lopper.awaitSuccess(app);
 * }
 * }</pre>
 */
final class LopperCluster implements AutoCloseable {
  /** How long one Lopper application may take on the shared two-core machine. */
  static final Duration APP_TIMEOUT = Duration.ofMinutes(4);
  static final String MAIN_CLASS = "dev.lopper.jobs.cli.Lopper";
  /** C1 only and one GC thread: these JVMs live for seconds on two shared cores, where JIT threads cost most. */
  private static final String QUICK_START = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
  /**
   * The executors' own options: one GC thread. Their JIT is left to Lopper, which adds C1-only to the
   * executor options it is given (SparkSessions.EXECUTOR_JIT); SweepOnClusterIT checks the launched
   * command lines.
   */
  static final String EXECUTOR_OPTIONS = "-XX:+UseSerialGC";
  private static final ObjectMapper JSON = new ObjectMapper();
  /** StandaloneAppClient's line when the master grants the application an executor. */
  private static final Pattern EXECUTOR_ADDED = Pattern.compile("Executor added: (app-\\d+-\\d+)/");

  private final Path workDir;
  private final StandaloneCluster cluster;
  private final Path fatJar;
  private final int executorCores;

  private LopperCluster(Path workDir, StandaloneCluster cluster, Path fatJar, int executorCores) {
    this.workDir = workDir;
    this.cluster = cluster;
    this.fatJar = fatJar;
    this.executorCores = executorCores;
  }

  /**
   * Starts a cluster in {@code <workRoot>/<name>/cluster}, after killing what an earlier, killed test JVM
   * left running there and deleting the directory. Each application gets the worker's two cores, as one
   * executor JVM of two cores ({@code executorCores} 2) or two of one core ({@code executorCores} 1).
   */
  static LopperCluster start(String name, int executorCores) throws IOException {
    Path fatJar = BuildClasspath.fatJar();
    if (!Files.isRegularFile(fatJar)) {
      throw new IllegalStateException(fatJar + " does not exist: run the cluster tests through Maven after"
          + " package (mvn -pl jobs verify)");
    }
    Path workDir = BuildClasspath.workRoot().resolve(name);
    int leftovers = StandaloneCluster.killLeftovers(workDir);
    if (leftovers > 0) {
      System.out.println("killed " + leftovers + " processes left by an earlier run in " + workDir);
    }
    deleteRecursively(workDir);
    Files.createDirectories(workDir);
    long start = System.nanoTime();
    StandaloneCluster cluster = StandaloneCluster.start(workDir.resolve("cluster"), 1, 2, "2g");
    System.out.printf("%s: standalone cluster (master + 1 worker of 2 cores) up in %.1f s%n", name, seconds(start));
    return new LopperCluster(workDir, cluster, fatJar, executorCores);
  }

  /** The repository's root: the driver's working directory, where conf/ and data/ are. */
  static Path repoRoot() {
    return SampleData.dir().getParent();
  }

  /** The cluster. */
  StandaloneCluster cluster() {
    return cluster;
  }

  /** A directory for this test class's outputs. */
  Path workDir() {
    return workDir;
  }

  /** Submits {@code lopper <args>} with the fat jar, its driver running in {@link #repoRoot()}. */
  SubmittedApp submit(String... args) {
    List<String> conf = List.of(
        "spark.executor.cores=" + executorCores,
        "spark.executor.memory=768m",
        "spark.driver.memory=1g",
        "spark.driver.extraJavaOptions=" + QUICK_START,
        "spark.executor.extraJavaOptions=" + EXECUTOR_OPTIONS);
    return cluster.submit(fatJar, MAIN_CLASS, conf, List.of(args), repoRoot());
  }

  /** Waits for {@code app} and asserts that it exited with 0. */
  static void awaitSuccess(SubmittedApp app, String what) {
    int exit = app.waitFor(APP_TIMEOUT);
    assertEquals(0, exit, () -> what + " exited with " + exit + "\n--- stdout\n" + app.stdout() + "\n--- stderr\n"
        + SubmittedApp.tail(app.stderrFile(), 80));
  }

  /**
   * Reads a run directory's manifest and asserts that the run succeeded on this standalone cluster (its
   * Spark application id is a standalone one, {@code app-...}, not a local-mode {@code local-...}).
   */
  static JsonNode assertRanOnCluster(Path runDir) {
    JsonNode manifest;
    try {
      manifest = JSON.readTree(runDir.resolve("manifest.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    assertEquals("SUCCEEDED", manifest.path("status").asText(), runDir + "/manifest.json status");
    String appId = manifest.path("spark_application_id").asText();
    assertTrue(appId.matches("app-\\d{14}-\\d{4}"), runDir + ": spark_application_id " + appId
        + " is not a standalone application id");
    return manifest;
  }

  /** The text of a run directory's {@code sensitivity.csv}. */
  static String sensitivityCsv(Path runDir) {
    try {
      return Files.readString(runDir.resolve("sensitivity.csv"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The executor directories (one per executor JVM the worker launched) of application {@code appId}; each
   * holds the executor's {@code stdout} and {@code stderr}.
   */
  List<Path> executorDirs(String appId) throws IOException {
    Path appDir = cluster.workerDir(0).resolve(appId);
    if (!Files.isDirectory(appDir)) {
      return List.of();
    }
    try (Stream<Path> dirs = Files.list(appDir)) {
      return dirs.filter(Files::isDirectory).sorted().collect(Collectors.toList());
    }
  }

  /** The application's standalone id, from its driver's log of the executors the master granted it. */
  static String awaitApplicationId(SubmittedApp app) throws InterruptedException {
    long start = System.nanoTime();
    while (seconds(start) < APP_TIMEOUT.toSeconds()) {
      Matcher added = EXECUTOR_ADDED.matcher(app.stderr());
      if (added.find()) {
        return added.group(1);
      }
      if (!app.isAlive()) {
        fail("the application exited before it had executors\n" + app.stderr());
      }
      Thread.sleep(100);
    }
    return fail("the application had no executors within " + APP_TIMEOUT + "\n" + app.stderr());
  }

  /**
   * Waits until an executor of {@code appId} has started a task that evaluates the model (it has loaded the
   * model, which the first such task in a JVM does: ExecutorModels logs it) and returns its PID. An
   * executor's working directory is its log directory, which is how a PID is matched with its log.
   *
   * @param what what the task does, for messages ("sweep", "calibration")
   */
  long awaitExecutorWithModel(SubmittedApp app, String appId, String what) throws IOException, InterruptedException {
    long start = System.nanoTime();
    while (seconds(start) < APP_TIMEOUT.toSeconds()) {
      for (long pid : cluster.executorPids()) {
        Optional<Path> dir = executorDir(pid);
        if (dir.isPresent() && isOf(dir.get(), appId) && Files.exists(dir.get().resolve("stderr"))
            && Files.readString(dir.get().resolve("stderr")).contains("ExecutorModels: Loaded")) {
          return pid;
        }
      }
      if (!app.isAlive()) {
        fail("the application exited before any executor ran a " + what + " task\n" + app.stderr());
      }
      Thread.sleep(50);
    }
    return fail("no executor ran a " + what + " task within " + APP_TIMEOUT + "\n" + app.stderr());
  }

  /** An executor's working directory, {@code worker-<i>/<app-id>/<executor-id>}, which holds its logs. */
  static Optional<Path> executorDir(long pid) {
    try {
      return Optional.of(Path.of("/proc/" + pid + "/cwd").toRealPath());
    } catch (IOException gone) {
      return Optional.empty();
    }
  }

  /** Whether {@code executorDir} (see {@link #executorDir}) is that of an executor of application {@code appId}. */
  static boolean isOf(Path executorDir, String appId) {
    return executorDir.getParent().getFileName().toString().equals(appId);
  }

  /** Stops the cluster and deletes the copies of the fat jar that executors fetched (140 MB each). */
  @Override
  public void close() throws IOException {
    cluster.close();
    List<Path> jars = new ArrayList<>();
    try (Stream<Path> files = Files.walk(workDir.resolve("cluster"))) {
      files.filter(p -> p.toString().endsWith(".jar") && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
          && !p.toString().contains("/spark-home/")).forEach(jars::add);
    }
    for (Path jar : jars) {
      Files.delete(jar);
    }
  }

  static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
        Files.delete(p);
      }
    }
  }
}
