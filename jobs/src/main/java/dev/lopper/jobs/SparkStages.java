package dev.lopper.jobs;

import dev.lopper.jobs.config.LopperConfig;
import org.apache.spark.sql.SparkSession;

/**
 * The pipeline's stages on Spark, as the command line runs them.
 *
 * <p>Not wired yet: the sweep, allocation wiring, emission and verification land here.
 */
public final class SparkStages implements RunStages {

  @Override
  public RunOutcome sensitivity(SparkSession spark, LopperConfig config, RunContext run) {
    throw new UnsupportedOperationException("command sensitivity is not wired to the Spark sweep yet");
  }

  @Override
  public RunOutcome prune(SparkSession spark, LopperConfig config, RunContext run) {
    throw new UnsupportedOperationException("command prune is not wired to the Spark pipeline yet");
  }
}
