package dev.lopper.jobs.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.launcher.JavaModuleOptions;

/**
 * A Spark standalone cluster on 127.0.0.1 for tests: one master and some workers, each its own JVM, whose
 * executors run in JVMs of their own, as on a real cluster.
 *
 * <pre>{@code
 * try (StandaloneCluster cluster = StandaloneCluster.start(workDir, 1, 2, "2g")) {
 *   SubmittedApp app = cluster.submit(appJar, "dev.lopper.jobs.cli.Lopper", List.of(), List.of("prune", ...));
 *   assertEquals(0, app.waitFor(Duration.ofMinutes(2)), app::stderr);
 * }
 * }</pre>
 *
 * <p>The cluster's {@code SPARK_HOME} is made under the work directory from the Spark jars on the test
 * classpath ({@link BuildClasspath#sparkJars()}): {@code jars/} holds links to them, an empty
 * {@code RELEASE} file makes Spark's launcher put {@code jars/*} on executors' classpaths, and
 * {@code conf/} holds the logging and default configuration. Every JVM is started as
 * {@code java @argfile} with the wildcard classpath {@code conf:jars/*}, so that command lines stay short
 * (ONNX Runtime crashes in a JVM whose command line is longer than about 3.9 KB); workers launch
 * executors with Spark's own short command line. Each process logs to a file under {@code logs/} (the
 * executors under {@code worker-<i>/<app>/<executor>/}).
 *
 * <p>{@link #close()} stops only the processes this object started and their descendants; a JVM shutdown
 * hook does the same if the test JVM exits without closing.
 */
public final class StandaloneCluster implements AutoCloseable {
  /** The main class of standalone executors, by which {@link #executorPids()} recognises them. */
  public static final String EXECUTOR_MAIN_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend";

  private static final String LOOPBACK = "127.0.0.1";
  private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
  /** Master and workers are idle JVMs: small heap, one GC thread, and no C2 compilation to slow their start. */
  private static final List<String> DAEMON_OPTIONS = List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path workDir;
  private final Path sparkHome;
  private final Path logDir;
  private final Map<String, String> environment;
  private final int masterPort;
  private final int masterWebUiPort;
  private final List<Process> daemons = new ArrayList<>();
  private final List<Process> workers = new ArrayList<>();
  private final List<SubmittedApp> apps = new ArrayList<>();
  private final Thread shutdownHook;
  private boolean closed;

  private StandaloneCluster(Path workDir) {
    this.workDir = workDir;
    this.sparkHome = workDir.resolve("spark-home");
    this.logDir = workDir.resolve("logs");
    this.masterPort = freePort();
    this.masterWebUiPort = freePort();
    this.environment = childEnvironment(sparkHome, workDir.resolve("local"));
    this.shutdownHook = new Thread(this::stopAll, "stop-standalone-cluster");
  }

  /**
   * Makes a {@code SPARK_HOME} under {@code workDir}, starts a master and {@code workers} workers of
   * {@code coresPerWorker} cores and {@code memoryPerWorker} memory each (Spark's syntax: {@code 2g},
   * {@code 1536m}), and waits until the master reports every worker alive.
   *
   * @param workDir a directory that does not exist or is empty; it receives SPARK_HOME, logs and the
   *     workers' work directories
   * @throws IllegalArgumentException if {@code workDir} is not empty or a count is not positive
   * @throws IllegalStateException if the cluster does not come up within 90 s; the message holds the
   *     tails of the master's and workers' logs, and every process started is stopped
   */
  public static StandaloneCluster start(Path workDir, int workers, int coresPerWorker, String memoryPerWorker) {
    if (workers < 1 || coresPerWorker < 1) {
      throw new IllegalArgumentException("workers and cores per worker must be at least 1, got workers="
          + workers + ", coresPerWorker=" + coresPerWorker);
    }
    Path dir = workDir.toAbsolutePath().normalize();
    requireEmpty(dir);
    StandaloneCluster cluster = new StandaloneCluster(dir);
    Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
    try {
      cluster.makeSparkHome();
      cluster.startMaster();
      // A worker that finds no master retries only 5-15 s later, so it starts once the master listens.
      cluster.awaitMasterListening();
      for (int i = 0; i < workers; i++) {
        cluster.startWorker(i, coresPerWorker, memoryPerWorker);
      }
      cluster.awaitAliveWorkers(workers);
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  /** The master's URL, {@code spark://127.0.0.1:<port>}. */
  public String masterUrl() {
    return "spark://" + LOOPBACK + ":" + masterPort;
  }

  /** The master's web UI, whose {@code json/} path reports workers and applications. */
  public String masterWebUiUrl() {
    return "http://" + LOOPBACK + ":" + masterWebUiPort;
  }

  /** The {@code SPARK_HOME} that every process of this cluster uses. */
  public Path sparkHome() {
    return sparkHome;
  }

  /** The directory of the master's, workers' and drivers' logs and argument files. */
  public Path logDir() {
    return logDir;
  }

  /** Worker {@code index}'s work directory: {@code <app-id>/<executor-id>/} holds each executor's logs. */
  public Path workerDir(int index) {
    return workDir.resolve("worker-" + index);
  }

  /**
   * Submits an application in client mode: its driver is a child JVM running SparkSubmit, with the
   * cluster's master and loopback addresses, the UI off and {@code OMP_NUM_THREADS=1} for executors.
   *
   * @param appJar the application jar, shipped to executors by Spark
   * @param mainClass the application's main class
   * @param sparkConf {@code key=value} Spark settings, applied after the defaults above (so they may
   *     override them); {@code spark.driver.memory} sets the driver JVM's heap (default 1g),
   *     {@code spark.driver.extraJavaOptions} (split at white space, no quoting) its other JVM options, and
   *     {@code spark.jars} ships more jars
   * @param args the application's arguments
   * @throws IllegalArgumentException if the jar does not exist or a setting has no {@code =}
   */
  public SubmittedApp submit(Path appJar, String mainClass, List<String> sparkConf, List<String> args) {
    return submit(appJar, mainClass, sparkConf, args, workDir);
  }

  /**
   * Submits an application as {@link #submit(Path, String, List, List)} does, with its driver running in
   * {@code driverWorkingDir}, as when a user runs spark-submit from that directory: relative paths in the
   * application's arguments resolve against it on the driver (and only there: executors run in the
   * worker's directories).
   */
  public synchronized SubmittedApp submit(Path appJar, String mainClass, List<String> sparkConf, List<String> args,
      Path driverWorkingDir) {
    if (!Files.isDirectory(driverWorkingDir)) {
      throw new IllegalArgumentException("driver working directory " + driverWorkingDir + " is not a directory");
    }
    if (closed) {
      throw new IllegalStateException("the cluster at " + masterUrl() + " is closed");
    }
    if (!Files.isRegularFile(appJar)) {
      throw new IllegalArgumentException("application jar " + appJar + " does not exist");
    }
    // The driver JVM is started here, not by SparkSubmit, so the driver's JVM settings are applied here.
    List<String> driverOptions = new ArrayList<>(List.of("-Xmx1g"));
    for (String setting : sparkConf) {
      int eq = setting.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("Spark setting '" + setting + "' is not key=value");
      }
      String key = setting.substring(0, eq).trim();
      String value = setting.substring(eq + 1).trim();
      if (key.equals("spark.driver.memory")) {
        driverOptions.set(0, "-Xmx" + value);
      } else if (key.equals("spark.driver.extraJavaOptions") && !value.isEmpty()) {
        driverOptions.addAll(Arrays.asList(value.split("\\s+")));
      }
    }
    List<String> command = new ArrayList<>(jvmOptions(driverOptions));
    command.add("org.apache.spark.deploy.SparkSubmit");
    command.addAll(List.of("--master", masterUrl(), "--deploy-mode", "client"));
    for (String setting : List.of("spark.driver.host=" + LOOPBACK, "spark.driver.bindAddress=" + LOOPBACK,
        "spark.ui.enabled=false", "spark.executorEnv.OMP_NUM_THREADS=1")) {
      command.addAll(List.of("--conf", setting));
    }
    for (String setting : sparkConf) {
      command.addAll(List.of("--conf", setting));
    }
    command.addAll(List.of("--class", mainClass, appJar.toAbsolutePath().toString()));
    command.addAll(args);

    String name = "app-" + (apps.size() + 1);
    Path argFile = ArgFile.write(logDir.resolve(name + ".args"), command);
    Path stdout = logDir.resolve(name + ".stdout");
    Path stderr = logDir.resolve(name + ".stderr");
    ProcessBuilder builder = javaProcess(argFile).directory(driverWorkingDir.toFile())
        .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    SubmittedApp app = new SubmittedApp(name, start(builder, name), stdout, stderr, STOP_TIMEOUT);
    apps.add(app);
    return app;
  }

  /** The PIDs of the worker JVMs this object started, in start order. */
  public synchronized List<Long> workerPids() {
    return workers.stream().map(Process::pid).collect(Collectors.toList());
  }

  /**
   * The PIDs of this cluster's live executor JVMs: descendants of the workers this object started whose
   * main class is {@link #EXECUTOR_MAIN_CLASS}, in ascending order.
   */
  public List<Long> executorPids() {
    List<Process> current;
    synchronized (this) {
      current = new ArrayList<>(workers);
    }
    return current.stream()
        .flatMap(Process::descendants)
        .filter(ProcessHandle::isAlive)
        .filter(StandaloneCluster::isExecutor)
        .map(ProcessHandle::pid)
        .sorted()
        .collect(Collectors.toList());
  }

  /**
   * Waits until at least {@code count} executor JVMs are alive.
   *
   * @return their PIDs, as {@link #executorPids()}
   * @throws IllegalStateException if fewer are alive after {@code timeout}
   */
  public List<Long> awaitExecutors(int count, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Long> pids = executorPids();
      if (pids.size() >= count) {
        return pids;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("expected " + count + " executor JVMs within " + timeout + ", found "
            + pids + "\n" + diagnostics());
      }
      sleep(100);
    }
  }

  /**
   * Kills executor JVM {@code pid} with SIGKILL, as a crash or an out-of-memory kill would, and waits until
   * it has exited.
   *
   * @throws IllegalArgumentException if {@code pid} is not one of {@link #executorPids()}: this method
   *     never touches another process
   */
  public void killExecutor(long pid) {
    if (!executorPids().contains(pid)) {
      throw new IllegalArgumentException("PID " + pid + " is not a live executor of the cluster at "
          + masterUrl() + "; its executors are " + executorPids());
    }
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isPresent()) {
      handle.get().destroyForcibly();
      awaitExit(handle.get(), STOP_TIMEOUT);
    }
  }

  /** The master's state from its JSON endpoint ({@code workers}, {@code activeapps}, ...). */
  public JsonNode masterState() throws IOException {
    HttpURLConnection connection = (HttpURLConnection) new URL(masterWebUiUrl() + "/json/").openConnection();
    connection.setConnectTimeout(2000);
    connection.setReadTimeout(5000);
    try (InputStream in = connection.getInputStream()) {
      return JSON.readTree(in);
    } finally {
      connection.disconnect();
    }
  }

  /** Stops the drivers, workers (and their executors) and master that this object started. */
  @Override
  public void close() {
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // The JVM is exiting and runs the hook itself.
    }
  }

  /**
   * Kills processes left running by an earlier cluster in {@code workDir} whose test JVM died without
   * closing it (SIGKILL skips shutdown hooks). Only processes whose command line names {@code workDir} are
   * touched: the master, workers and drivers read their argument files from it and executors their
   * classpath.
   *
   * @return how many processes were killed
   */
  public static int killLeftovers(Path workDir) {
    String marker = workDir.toAbsolutePath().normalize() + "/";
    long self = ProcessHandle.current().pid();
    List<ProcessHandle> leftovers;
    try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
      leftovers = all.filter(h -> h.pid() != self)
          .filter(h -> h.info().commandLine().map(c -> c.contains(marker)).orElse(false))
          .collect(Collectors.toList());
    }
    leftovers.forEach(ProcessHandle::destroyForcibly);
    leftovers.forEach(h -> awaitExit(h, STOP_TIMEOUT));
    return leftovers.size();
  }

  private void makeSparkHome() {
    try {
      Path jars = Files.createDirectories(sparkHome.resolve("jars"));
      for (Path jar : BuildClasspath.sparkJars()) {
        if (!Files.isRegularFile(jar)) {
          throw new IllegalStateException("Spark jar " + jar + " is missing or not a jar file");
        }
        Path link = jars.resolve(jar.getFileName());
        for (int n = 2; Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS); n++) {
          link = jars.resolve(n + "-" + jar.getFileName());
        }
        Files.createSymbolicLink(link, jar);
      }
      Files.createFile(sparkHome.resolve("RELEASE"));
      Path conf = Files.createDirectories(sparkHome.resolve("conf"));
      Files.writeString(conf.resolve("log4j2.properties"), String.join("\n",
          "# Warnings and errors to stderr, which every process of the test cluster writes to a file.",
          "rootLogger.level = warn",
          "rootLogger.appenderRef.stderr.ref = console",
          "appender.console.type = Console",
          "appender.console.name = console",
          "appender.console.target = SYSTEM_ERR",
          "appender.console.layout.type = PatternLayout",
          "appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex",
          "# Registrations and executor launches, to explain a cluster that does not come up.",
          "logger.deploy.name = org.apache.spark.deploy",
          "logger.deploy.level = info",
          "# Lopper's progress (the sweep's start, a model loaded in an executor) tells tests where a run is.",
          "logger.lopper.name = dev.lopper",
          "logger.lopper.level = info",
          "logger.executor.name = org.apache.spark.executor.Executor",
          "logger.executor.level = info",
          "logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader",
          "logger.nativecode.level = error",
          ""));
      Files.writeString(conf.resolve("spark-defaults.conf"), String.join("\n",
          "spark.master.rest.enabled false",
          "spark.ui.showConsoleProgress false",
          ""));
      Files.createDirectories(logDir);
      Files.createDirectories(workDir.resolve("local"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make SPARK_HOME " + sparkHome, e);
    }
  }

  private void startMaster() {
    List<String> command = new ArrayList<>(jvmOptions(DAEMON_OPTIONS));
    command.addAll(List.of("org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
        "--port", String.valueOf(masterPort), "--webui-port", String.valueOf(masterWebUiPort)));
    startDaemon("master", command, false);
  }

  private void startWorker(int index, int cores, String memory) {
    Path dir = workerDir(index);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make worker directory " + dir, e);
    }
    List<String> command = new ArrayList<>(jvmOptions(DAEMON_OPTIONS));
    command.addAll(List.of("org.apache.spark.deploy.worker.Worker", masterUrl(), "--host", LOOPBACK,
        "--cores", String.valueOf(cores), "--memory", memory, "--work-dir", dir.toString(),
        "--webui-port", String.valueOf(freePort())));
    startDaemon("worker-" + index, command, true);
  }

  private synchronized void startDaemon(String name, List<String> command, boolean worker) {
    Path argFile = ArgFile.write(logDir.resolve(name + ".args"), command);
    ProcessBuilder builder = javaProcess(argFile).redirectErrorStream(true)
        .redirectOutput(logDir.resolve(name + ".log").toFile());
    Process process = start(builder, name);
    daemons.add(process);
    if (worker) {
      workers.add(process);
    }
  }

  private List<String> jvmOptions(List<String> first) {
    List<String> options = new ArrayList<>(first);
    options.addAll(Arrays.asList(JavaModuleOptions.defaultModuleOptionArray()));
    options.add("-cp");
    options.add(sparkHome.resolve("conf") + java.io.File.pathSeparator + sparkHome.resolve("jars") + "/*");
    return options;
  }

  private ProcessBuilder javaProcess(Path argFile) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder = new ProcessBuilder(java, "@" + argFile).directory(workDir.toFile());
    builder.environment().clear();
    builder.environment().putAll(environment);
    return builder;
  }

  private Process start(ProcessBuilder builder, String name) {
    try {
      return builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name + " of the test cluster", e);
    }
  }

  private void awaitAliveWorkers(int expected) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    String last = "no answer yet";
    while (true) {
      for (Process daemon : daemons) {
        if (!daemon.isAlive()) {
          throw new IllegalStateException("a process of the test cluster exited with code " + daemon.exitValue()
              + " while waiting for " + expected + " alive workers\n" + diagnostics());
        }
      }
      try {
        JsonNode state = masterState();
        int alive = 0;
        for (JsonNode worker : state.path("workers")) {
          if ("ALIVE".equals(worker.path("state").asText())) {
            alive++;
          }
        }
        if (alive >= expected) {
          return;
        }
        last = alive + " alive workers";
      } catch (IOException e) {
        last = e.toString();
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the master at " + masterWebUiUrl() + "/json/ did not report "
            + expected + " alive workers within " + START_TIMEOUT + " (last: " + last + ")\n" + diagnostics());
      }
      sleep(200);
    }
  }

  private void awaitMasterListening() {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (true) {
      Process master = daemons.get(0);
      if (!master.isAlive()) {
        throw new IllegalStateException("the master exited with code " + master.exitValue() + "\n" + diagnostics());
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(LOOPBACK, masterPort), 500);
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the master did not listen on " + masterUrl() + " within "
              + START_TIMEOUT + "\n" + diagnostics());
        }
      }
      sleep(100);
    }
  }

  private String diagnostics() {
    StringBuilder text = new StringBuilder();
    try (Stream<Path> logs = Files.list(logDir)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".stderr"))
          .sorted().collect(Collectors.toList())) {
        text.append("--- ").append(log).append(" (last lines)\n").append(SubmittedApp.tail(log, 25));
      }
    } catch (IOException e) {
      text.append("cannot list ").append(logDir).append(": ").append(e);
    }
    return text.toString();
  }

  private synchronized void stopAll() {
    if (closed) {
      return;
    }
    closed = true;
    for (SubmittedApp app : apps) {
      app.close();
    }
    // Executors are the workers' children; a worker kills them when it stops, and anything left is killed here.
    List<ProcessHandle> executors = workers.stream().flatMap(Process::descendants).collect(Collectors.toList());
    for (Process worker : workers) {
      worker.destroy();
    }
    for (Process worker : workers) {
      awaitExit(worker.toHandle(), STOP_TIMEOUT);
    }
    for (ProcessHandle executor : executors) {
      if (executor.isAlive()) {
        executor.destroyForcibly();
        awaitExit(executor, STOP_TIMEOUT);
      }
    }
    for (Process daemon : daemons) {
      daemon.destroy();
      awaitExit(daemon.toHandle(), STOP_TIMEOUT);
    }
  }

  /** Waits for {@code handle} to exit after a polite signal, then kills it if it is still alive. */
  static void awaitExit(ProcessHandle handle, Duration timeout) {
    try {
      handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      handle.destroyForcibly();
      try {
        handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException | ExecutionException again) {
        // Nothing more can be done for a process that survives SIGKILL.
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
      }
    } catch (ExecutionException e) {
      // onExit does not fail.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static boolean isExecutor(ProcessHandle handle) {
    ProcessHandle.Info info = handle.info();
    return info.commandLine().map(c -> c.contains(EXECUTOR_MAIN_CLASS)).orElse(false)
        || info.arguments().map(a -> Arrays.asList(a).contains(EXECUTOR_MAIN_CLASS)).orElse(false);
  }

  private static Map<String, String> childEnvironment(Path sparkHome, Path localDir) {
    Map<String, String> env = new HashMap<>(System.getenv());
    // Settings from the calling environment would change the cluster's classpath, addresses or directories.
    env.keySet().removeIf(k -> k.startsWith("SPARK_") || k.equals("CLASSPATH") || k.equals("HADOOP_CONF_DIR")
        || k.equals("YARN_CONF_DIR") || k.equals("JAVA_TOOL_OPTIONS") || k.equals("JDK_JAVA_OPTIONS")
        || k.equals("_JAVA_OPTIONS"));
    env.put("SPARK_HOME", sparkHome.toString());
    env.put("SPARK_CONF_DIR", sparkHome.resolve("conf").toString());
    env.put("SPARK_LOCAL_IP", LOOPBACK);
    env.put("SPARK_LOCAL_DIRS", localDir.toString());
    env.put("SPARK_SCALA_VERSION", "2.13");
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("OMP_NUM_THREADS", "1");
    return env;
  }

  private static void requireEmpty(Path dir) {
    if (Files.exists(dir)) {
      try (Stream<Path> entries = Files.list(dir)) {
        if (entries.findAny().isPresent()) {
          throw new IllegalArgumentException("work directory " + dir + " must be empty or absent");
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list work directory " + dir, e);
      }
    }
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find a free port on " + LOOPBACK, e);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the test cluster", e);
    }
  }
}
