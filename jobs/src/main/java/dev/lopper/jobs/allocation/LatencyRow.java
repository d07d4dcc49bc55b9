package dev.lopper.jobs.allocation;

import dev.lopper.io.RowSchema;

/**
 * One row of the latency table of a structured run ({@code latency.*}): the model with one channel
 * group pruned at one sparsity, timed against the dense model.
 *
 * @param tensor the group's name
 * @param sparsity the sparsity
 * @param channels the group's channels
 * @param keptChannels the channels kept at that sparsity
 * @param batch the batch size timed
 * @param denseUs the dense model's time per batch in microseconds (median of the round medians)
 * @param prunedUs the pruned model's, timed in the same rounds
 * @param speedup 1 / ratio, the ratio of pruned to dense taken over paired runs
 * @param saving 1 - ratio
 */
public record LatencyRow(String tensor, double sparsity, long channels, long keptChannels, long batch, double denseUs,
    double prunedUs, double speedup, double saving) {

  /**
   * The columns: {@code tensor} (STRING), {@code sparsity} (DOUBLE), {@code channels}, {@code
   * kept_channels}, {@code batch} (LONG), {@code dense_us}, {@code pruned_us}, {@code speedup} and
   * {@code saving} (DOUBLE).
   */
  public static final RowSchema<LatencyRow> SCHEMA = RowSchema.of(LatencyRow.class);
}
