package dev.lopper.jobs.cli;

import dev.lopper.jobs.config.HadoopClientRetries;
import dev.lopper.jobs.config.LopperConfig;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/** Starts the Spark session for a command, after the configuration has been checked. */
final class SparkSessions {
  /** Executors' JVM options. */
  static final String EXECUTOR_OPTIONS = "spark.executor.extraJavaOptions";
  /** A cluster administrator's executor JVM options, which Spark puts before {@link #EXECUTOR_OPTIONS}. */
  static final String EXECUTOR_DEFAULT_OPTIONS = "spark.executor.defaultJavaOptions";
  /**
   * The JIT Lopper asks of executor JVMs: C1 only. An executor's C2 compiler spends its CPU on
   * Spark's and the JDK's start-up code (class loading, lambda forms), not on the tasks, whose time
   * is mostly ONNX Runtime's native forward passes and was the same without C2; every additional
   * executor paid it again (docs/benchmarks.md, "Results (2026-11-22, with rounds)").
   */
  static final String EXECUTOR_JIT = "-XX:TieredStopAtLevel=1";

  private SparkSessions() {}

  /**
   * The master the session will use: spark-submit's ({@code spark.master} system property) when set,
   * else {@code spark.master} from the configuration, else {@code local[*]}.
   */
  static String master(LopperConfig config) {
    String submitted = System.getProperty("spark.master");
    if (submitted != null) {
      return submitted;
    }
    return config.spark().master() != null ? config.spark().master() : "local[*]";
  }

  /**
   * Starts (or joins) the session {@code lopper <command>}. Defaults that {@code spark.conf} and
   * spark-submit's {@code --conf} can override: {@code spark.ui.enabled=false} in local mode (no
   * port opened for a one-machine run) and {@code spark.executorEnv.OMP_NUM_THREADS=1} (ND4J's
   * OpenMP threads would otherwise fight over the executor's cores once it computes), and the Hadoop
   * client's bounded retries ({@link HadoopClientRetries}). Then every {@code spark.conf} entry.
   * Last, for executors in JVMs of their own (any master but {@code local} / {@code local[...]}),
   * {@link #EXECUTOR_JIT} is added to the executor JVM options, after the user's own, unless those
   * (or the administrator's {@code spark.executor.defaultJavaOptions}) already choose the JIT
   * ({@code TieredStopAtLevel} or {@code TieredCompilation}).
   */
  static SparkSession start(Command command, LopperConfig config) {
    String master = master(config);
    Map<String, String> conf = config.spark().conf();
    SparkSession.Builder builder = SparkSession.builder().appName("lopper " + command.word());
    if (System.getProperty("spark.master") == null) {
      builder.master(master);
    }
    if (master.startsWith("local") && unset("spark.ui.enabled", conf)) {
      builder.config("spark.ui.enabled", "false");
    }
    if (unset("spark.executorEnv.OMP_NUM_THREADS", conf)) {
      builder.config("spark.executorEnv.OMP_NUM_THREADS", "1");
    }
    HadoopClientRetries.sparkSettings(conf).forEach(builder::config);
    conf.forEach(builder::config);
    if (executorsOfTheirOwn(master)) {
      String options = executorOptions(setting(EXECUTOR_OPTIONS, conf), setting(EXECUTOR_DEFAULT_OPTIONS, conf));
      if (options != null) {
        builder.config(EXECUTOR_OPTIONS, options);
      }
    }
    return builder.getOrCreate();
  }

  /** Whether executors run in JVMs other than the driver's: any master but local mode. */
  static boolean executorsOfTheirOwn(String master) {
    return !(master.equals("local") || master.startsWith("local["));
  }

  /**
   * The executor JVM options to set: {@code extra} (the user's, or null) followed by
   * {@link #EXECUTOR_JIT}, or null to leave them as they are because the user's or the
   * administrator's options already choose the JIT.
   */
  static String executorOptions(String extra, String defaults) {
    if (choosesJit(extra) || choosesJit(defaults)) {
      return null;
    }
    return extra == null || extra.isBlank() ? EXECUTOR_JIT : extra.strip() + " " + EXECUTOR_JIT;
  }

  private static boolean choosesJit(String options) {
    return options != null && (options.contains("TieredStopAtLevel") || options.contains("TieredCompilation"));
  }

  /** A setting from {@code spark.conf}, else spark-submit's (a system property), else null. */
  private static String setting(String name, Map<String, String> conf) {
    return conf.containsKey(name) ? conf.get(name) : System.getProperty(name);
  }

  private static boolean unset(String name, Map<String, String> conf) {
    return setting(name, conf) == null;
  }
}
