package dev.lopper.jobs;

import dev.lopper.jobs.config.LopperConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark side of a run: the one seam between the command line and the pipeline.
 *
 * <p>The command line ({@code dev.lopper.jobs.cli.Lopper}) parses and checks the configuration,
 * calls {@link #inspect}, creates the run directory, starts Spark and only then calls {@link
 * #sensitivity} or {@link #prune}. It writes the manifest from the returned {@link RunOutcome} and
 * commits the run directory; an exception aborts it. Implementations write their tables, masks and
 * models through {@link RunContext#directory()} and time their stages with {@link
 * RunContext#timings()}.
 *
 * <p>{@link SparkStages} is the implementation {@code main} uses.
 */
public interface RunStages {

  /**
   * Checks the inputs more deeply than the configuration can (the model's graph and inputs, the
   * Parquet schema, the feature length against the input shape), without Spark. Called by every
   * command, {@code check} included, before anything is written. The default checks nothing.
   *
   * @throws dev.lopper.InvalidInputException naming the file, column or tensor that is wrong
   */
  default void inspect(LopperConfig config, Configuration hadoop) {}

  /** Command {@code sensitivity}: the dense baseline and the sweep; writes the sensitivity table. */
  RunOutcome sensitivity(SparkSession spark, LopperConfig config, RunContext run);

  /**
   * Command {@code prune}: the sweep, the allocation, the mask and pruned model, their verification
   * and the quality gate's verdict ({@link RunOutcome#gate()}, which decides the exit code).
   */
  RunOutcome prune(SparkSession spark, LopperConfig config, RunContext run);
}
