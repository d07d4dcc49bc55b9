package dev.lopper.jobs.sweep;

import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import dev.lopper.io.RowSchema.Prefix;
import dev.lopper.metrics.MetricValues;

/**
 * One row of the sensitivity table ({@link SensitivityTable}): the dense baseline, or one swept item
 * at one sparsity.
 *
 * @param tensor the item's name (a tensor, or a channel group's name), or {@value SensitivityTable#BASELINE}
 * @param node the readable name of a tensor whose name is anonymous ({@link SweepItem#node()}), else
 *     null; a table in which no row has one has no such column
 * @param op the consuming op, {@code group} for a channel group, "" for the baseline
 * @param parameters the item's elements (of all member tensors for a group), 0 for the baseline
 * @param criterion the pruning criterion
 * @param sparsity the swept sparsity, 0 for the baseline
 * @param pruned the parameters the model loses when this item alone is pruned at that sparsity
 * @param channels a channel group's channels (0 for the baseline and for tensors); null in a sweep of
 *     no channel group, whose table has no such column
 * @param prunedChannels the channels that sparsity removes; null like {@code channels}
 * @param metrics the metrics of the model with this item pruned
 * @param delta each metric minus the baseline's (columns {@code delta_<metric>})
 * @param samples the rows evaluated
 */
public record SensitivityRow(String tensor, @Optional String node, String op, long parameters, String criterion,
    double sparsity, long pruned, @Optional Long channels, @Optional Long prunedChannels, MetricValues metrics,
    @Prefix("delta_") MetricValues delta, long samples) {

  /**
   * The columns: {@code tensor} (STRING), {@code node} (STRING, only when some row has one), {@code
   * op} (STRING), {@code parameters} (LONG), {@code criterion} (STRING), {@code sparsity} (DOUBLE),
   * {@code pruned} (LONG), in sweeps of channel groups {@code channels, pruned_channels} (LONG), the
   * metrics ({@link MetricValues}), their {@code delta_} columns and {@code samples} (LONG).
   */
  public static final RowSchema<SensitivityRow> SCHEMA = RowSchema.of(SensitivityRow.class);
}
