package dev.lopper.jobs.cli;

import dev.lopper.jobs.config.LopperConfig;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/** Starts the Spark session for a command, after the configuration has been checked. */
final class SparkSessions {

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
   * OpenMP threads otherwise fight over the executor's cores). Then every {@code spark.conf} entry.
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
    conf.forEach(builder::config);
    return builder.getOrCreate();
  }

  private static boolean unset(String name, Map<String, String> conf) {
    return !conf.containsKey(name) && System.getProperty(name) == null;
  }
}
