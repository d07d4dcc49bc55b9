package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.spark.SerializableConfiguration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * What the steps that run Spark jobs share: the session, the Hadoop configuration broadcast once
 * to every task (executors open the model and data files with it), and the threads each task gives
 * ONNX Runtime.
 *
 * @param session the run's Spark session
 * @param hadoop the driver's Hadoop configuration, broadcast
 * @param threads intra-op threads per task: {@code runtime.threads}, or {@code spark.task.cpus}
 */
public record SparkRun(SparkSession session, Broadcast<SerializableConfiguration> hadoop, int threads) {

  /** The Spark side of a run of {@code config} on {@code spark}. */
  public static SparkRun of(SparkSession spark, LopperConfig config) {
    Broadcast<SerializableConfiguration> hadoop = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .broadcast(new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
    int threads = config.runtime().threads() > 0 ? config.runtime().threads()
        : Integer.parseInt(spark.conf().get("spark.task.cpus", "1"));
    return new SparkRun(spark, hadoop, threads);
  }

  /** Whether the tasks run in the driver's JVM (Spark's local mode). */
  public boolean local() {
    return session.sparkContext().isLocal();
  }
}
