package dev.lopper.jobs.verify;

import dev.lopper.io.RowSchema;
import dev.lopper.metrics.MetricValues;

/**
 * One row of the verification table ({@code verification.*}): the dense or the written pruned model
 * evaluated on the whole validation set.
 *
 * @param model {@code dense} or {@code pruned}
 * @param metrics its metrics
 * @param samples the rows evaluated
 * @param predictedDrop the drop of the decision metric the allocation predicted (0 for the dense model)
 * @param measuredDrop the drop measured (0 for the dense model)
 */
public record VerificationRow(String model, MetricValues metrics, long samples, double predictedDrop,
    double measuredDrop) {

  /**
   * The columns: {@code model} (STRING), the metrics ({@link MetricValues}), {@code samples} (LONG),
   * {@code predicted_drop} and {@code measured_drop} (DOUBLE).
   */
  public static final RowSchema<VerificationRow> SCHEMA = RowSchema.of(VerificationRow.class);
}
