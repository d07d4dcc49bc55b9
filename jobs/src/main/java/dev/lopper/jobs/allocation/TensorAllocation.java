package dev.lopper.jobs.allocation;

import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;

/**
 * One tensor's share of an allocation, and a row of the allocation table ({@link Allocation#toTable()}).
 *
 * @param tensor the tensor's name
 * @param node the readable name of a tensor whose name is anonymous ({@link SensitivityCurve#node()}),
 *     else null; an allocation in which no tensor has one has no such column
 * @param parameters its number of elements
 * @param sparsity the chosen sparsity in [0, 1]
 * @param pruned the elements pruned at that sparsity: {@code sparsity * parameters} rounded half to
 *     even, as the magnitude criterion (and PyTorch's {@code round}) counts them
 * @param predictedDrop the drop of the decision metric predicted by the tensor's curve; NaN when the
 *     sparsity lies above the swept range (possible only for {@code global-magnitude})
 */
public record TensorAllocation(String tensor, @Optional String node, long parameters, double sparsity, long pruned,
    double predictedDrop) {

  /**
   * The allocation table's columns: {@code tensor} (STRING), {@code node} (STRING, only when some
   * tensor has one), {@code parameters} (LONG), {@code sparsity} (DOUBLE), {@code pruned} (LONG) and
   * {@code predicted_drop} (DOUBLE).
   */
  public static final RowSchema<TensorAllocation> SCHEMA = RowSchema.of(TensorAllocation.class);

  /**
   * The allocation of a tensor at {@code sparsity} chosen without measured curves (policies that
   * need none, run without a sweep): its predicted drop is unknown (NaN).
   */
  public static TensorAllocation unmeasured(String tensor, String node, long parameters, double sparsity) {
    return new TensorAllocation(tensor, node, parameters, sparsity, (long) Math.rint(sparsity * parameters),
        Double.NaN);
  }

  /** The allocation of {@code curve}'s tensor at {@code sparsity}, with its predicted drop. */
  public static TensorAllocation of(SensitivityCurve curve, double sparsity) {
    double drop = sparsity <= curve.maxSparsity() + 1e-12 ? curve.dropAt(Math.min(sparsity, curve.maxSparsity()))
        : Double.NaN;
    return new TensorAllocation(curve.tensor(), curve.node(), curve.parameters(), sparsity,
        (long) Math.rint(sparsity * curve.parameters()), drop);
  }
}
