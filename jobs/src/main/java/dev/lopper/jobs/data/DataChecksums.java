package dev.lopper.jobs.data;

import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.spark.SerializableConfiguration;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * The SHA-256 of a data set computed on executors, one task per file, so that the driver, which only
 * lists the files, never reads a data set of many gigabytes. The driver combines the per-file digests
 * as {@link InputFile.Listing#combine} does for any input, so the result equals {@link InputFile#of}.
 */
public final class DataChecksums {

  private DataChecksums() {}

  /** The input of {@code listing}, its files read in Spark tasks through {@code hadoop}. */
  public static InputFile of(SparkSession spark, InputFile.Listing listing, Configuration hadoop) {
    List<String> files = listing.files();
    if (files.isEmpty()) {
      return listing.combine(List.of());
    }
    JavaSparkContext context = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<SerializableConfiguration> conf = context.broadcast(new SerializableConfiguration(hadoop));
    context.setJobDescription("checksums: SHA-256 of " + listing.path() + " (" + files.size() + " files)");
    try {
      return listing.combine(context.parallelize(files, files.size())
          .map(file -> HadoopFiles.sha256(file, conf.value().get()))
          .collect());
    } finally {
      context.setJobDescription(null);
      conf.destroy();
    }
  }
}
