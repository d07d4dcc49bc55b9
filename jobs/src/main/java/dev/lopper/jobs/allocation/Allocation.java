package dev.lopper.jobs.allocation;

import dev.lopper.io.Table;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sparsity chosen for every prunable tensor, with predicted drops and totals.
 *
 * @param policy the name of the policy that made it
 * @param tensors one entry per tensor, in the order of the curves
 * @param lowerBound for {@code target}: a lower bound on the summed predicted drop of any allocation
 *     that reaches the target (its convex relaxation), so {@code predictedDrop() - lowerBound} bounds
 *     how far the result can be from the optimum; NaN for the other policies
 */
public record Allocation(String policy, List<TensorAllocation> tensors, double lowerBound) {

  public Allocation {
    tensors = List.copyOf(tensors);
  }

  /** Parameters over all tensors. */
  public long parameters() {
    return tensors.stream().mapToLong(TensorAllocation::parameters).sum();
  }

  /** Pruned parameters over all tensors, each tensor's count rounded as in {@link TensorAllocation#pruned()}. */
  public long prunedParameters() {
    return tensors.stream().mapToLong(TensorAllocation::pruned).sum();
  }

  /** Overall sparsity counted in parameters: {@code sum(parameters * sparsity) / sum(parameters)}. */
  public double overallSparsity() {
    double pruned = 0;
    for (TensorAllocation t : tensors) {
      pruned += t.parameters() * t.sparsity();
    }
    return pruned / parameters();
  }

  /** The summed predicted drop over tensors (NaN when one tensor's drop is unknown). */
  public double predictedDrop() {
    return tensors.stream().mapToDouble(TensorAllocation::predictedDrop).sum();
  }

  /** Tensor name to chosen sparsity, in order: what mask emission takes. */
  public Map<String, Double> sparsities() {
    Map<String, Double> out = new LinkedHashMap<>();
    tensors.forEach(t -> out.put(t.tensor(), t.sparsity()));
    return out;
  }

  /** The allocation table: tensor, parameters, sparsity, pruned, predicted_drop; one row per tensor. */
  public Table toTable() {
    return TensorAllocation.SCHEMA.table(tensors);
  }
}
