package dev.lopper.jobs;

import dev.lopper.jobs.config.LopperConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark side of a run: the one seam between the command line and the pipeline.
 *
 * <p>The command line ({@code dev.lopper.jobs.cli.Lopper}) parses and checks the configuration,
 * calls {@link #inspect}, creates the run directory, starts Spark and only then calls {@link
 * #sensitivity} or {@link #prune} with what {@code inspect} returned. It writes the manifest from
 * the returned {@link RunOutcome} and commits the run directory; an exception aborts it.
 * Implementations write their tables, masks and models through {@link RunContext#directory()} and
 * time their stages with {@link RunContext#timings()}.
 *
 * <p>{@code dev.lopper.jobs.pipeline.Pipeline} is the implementation {@code main} uses.
 *
 * @param <I> what {@link #inspect} finds out about the inputs and the run then uses (the loaded,
 *     checked model)
 */
public interface RunStages<I> {

  /**
   * Checks the inputs more deeply than the configuration can (the model's graph and inputs, the
   * Parquet schema, the feature length against the input shape), without Spark. Called by every
   * command, {@code check} included, before anything is written.
   *
   * @return what the run of this configuration uses (passed to {@link #sensitivity} or {@link #prune})
   * @throws dev.lopper.InvalidInputException naming the file, column or tensor that is wrong
   */
  I inspect(LopperConfig config, Configuration hadoop);

  /** Command {@code sensitivity}: the dense baseline and the sweep; writes the sensitivity table. */
  RunOutcome sensitivity(SparkSession spark, LopperConfig config, I inspected, RunContext run);

  /**
   * Command {@code prune}: the sweep, the allocation, the mask and pruned model, their verification
   * and the quality gate's verdict ({@link RunOutcome#gate()}, which decides the exit code).
   */
  RunOutcome prune(SparkSession spark, LopperConfig config, I inspected, RunContext run);
}
