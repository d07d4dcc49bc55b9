package dev.lopper.jobs.allocation;

import dev.lopper.io.RowSchema;

/**
 * One row of the latency table of a structured run ({@code latency.*}): a channel group pruned at
 * one sparsity, timed against the dense model alone or together with the groups that cost alike
 * ({@link ChannelAllocation#latencies}).
 *
 * @param tensor the group's name
 * @param sparsity the sparsity
 * @param channels the group's channels
 * @param keptChannels the channels kept at that sparsity
 * @param batch the batch size timed
 * @param denseUs the dense model's time per batch in microseconds (median of the round medians)
 * @param prunedUs the dense time less this group's saving: {@code denseUs * (1 - saving)}
 * @param speedup {@code 1 / (1 - saving)}
 * @param saving this group's share of the fraction of the dense time saved: {@code (1 - ratio) /
 *     timedWith}, the ratio of the timed model's time to the dense model's taken over paired runs
 * @param timedWith how many groups were pruned in the timed model (this one and those that cost
 *     alike); 1 when it was timed alone
 * @param savingError the standard error of {@code saving}: the timed ratio's ({@link
 *     dev.lopper.structure.LatencyProbe.Comparison#ratioError()}) divided by {@code timedWith}
 * @param pairs the paired runs the timing took
 */
public record LatencyRow(String tensor, double sparsity, long channels, long keptChannels, long batch, double denseUs,
    double prunedUs, double speedup, double saving, long timedWith, double savingError, long pairs) {

  /**
   * The columns: {@code tensor} (STRING), {@code sparsity} (DOUBLE), {@code channels}, {@code
   * kept_channels}, {@code batch} (LONG), {@code dense_us}, {@code pruned_us}, {@code speedup} and
   * {@code saving} (DOUBLE), {@code timed_with} (LONG), {@code saving_error} (DOUBLE), {@code pairs}
   * (LONG).
   */
  public static final RowSchema<LatencyRow> SCHEMA = RowSchema.of(LatencyRow.class);
}
