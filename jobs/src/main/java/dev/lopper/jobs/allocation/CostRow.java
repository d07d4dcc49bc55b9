package dev.lopper.jobs.allocation;

import dev.lopper.io.RowSchema;
import dev.lopper.structure.CostComparisonRow;
import dev.lopper.structure.ModelCost;

/**
 * One row of the cost table of a structured run ({@code cost.*}): a row of {@link
 * ModelCost#comparison} with the sizes of the two models' written files, which only the totals' row
 * has.
 *
 * @param comparison the node's (or the totals') parameters and multiply-accumulates, dense and pruned
 * @param bytesDense on the totals' row, the ONNX file of the dense model as Lopper writes models
 *     (weights embedded, no stale shapes); null on the other rows
 * @param bytesPruned on the totals' row, the shrunk model's written file with its external-data file,
 *     if any; null on the other rows
 */
public record CostRow(CostComparisonRow comparison, Long bytesDense, Long bytesPruned) {

  /**
   * The columns: those of {@link CostComparisonRow#SCHEMA}, then {@code bytes_dense} and {@code
   * bytes_pruned} (LONG).
   */
  public static final RowSchema<CostRow> SCHEMA = RowSchema.of(CostRow.class);
}
