package dev.lopper.structure;

import dev.lopper.io.RowSchema;

/**
 * One row of {@link ModelCost#compare}: a node's parameters and multiply-accumulates in the dense
 * and the pruned model, or the totals (node {@value ModelCost#TOTAL}, op "").
 *
 * @param node the node's name
 * @param op its op type
 * @param parametersDense parameters it reads first in the dense model
 * @param parametersPruned the same in the pruned model; null when the pruned model has no such node
 * @param macsDense multiply-accumulates per sample in the dense model (-1 when unknown)
 * @param macsPruned the same in the pruned model; null when the pruned model has no such node
 */
public record CostComparisonRow(String node, String op, long parametersDense, Long parametersPruned, long macsDense,
    Long macsPruned) {

  /**
   * The columns: {@code node}, {@code op} (STRING), {@code parameters_dense}, {@code
   * parameters_pruned}, {@code macs_dense}, {@code macs_pruned} (LONG).
   */
  public static final RowSchema<CostComparisonRow> SCHEMA = RowSchema.of(CostComparisonRow.class);
}
