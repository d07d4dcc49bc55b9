package dev.lopper.jobs.allocation;

import dev.lopper.io.RowSchema;

/**
 * One row of the allocation table of a structured run: a swept channel group's allocation, with its
 * channels and what removing it costs. Its first five columns are those of {@link TensorAllocation},
 * so a structured run's allocation table reads as {@link TensorAllocation} rows too.
 *
 * @param allocation {@code tensor} (the group's name), {@code parameters} (of its member tensors),
 *     {@code sparsity} (pruned channels / channels), {@code pruned} (the parameters the model loses
 *     by this group's cut alone) and {@code predicted_drop}
 * @param channels the group's channels
 * @param keptChannels the channels it keeps
 * @param cost what removing the whole group saves, in the run's unit; null for a group without a
 *     curve, which keeps its channels with a predicted drop of 0
 */
public record ChannelAllocationRow(TensorAllocation allocation, long channels, long keptChannels, Double cost) {

  /**
   * The columns: those of {@link TensorAllocation#SCHEMA}, then {@code channels}, {@code
   * kept_channels} (LONG) and {@code cost} (DOUBLE).
   */
  public static final RowSchema<ChannelAllocationRow> SCHEMA = RowSchema.of(ChannelAllocationRow.class);
}
