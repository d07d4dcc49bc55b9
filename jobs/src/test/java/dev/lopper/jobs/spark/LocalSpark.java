package dev.lopper.jobs.spark;

import org.apache.spark.sql.SparkSession;

/** A local-mode SparkSession for tests: loopback only, no UI, few shuffle partitions. */
public final class LocalSpark {
  private LocalSpark() {}

  /** A session with {@code cores} local cores; stop it when done. */
  public static SparkSession start(int cores) {
    return SparkSession.builder()
        .master("local[" + cores + "]")
        .appName("lopper-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.task.maxFailures", "1")
        .getOrCreate();
  }
}
