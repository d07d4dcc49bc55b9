package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The checks of a criterion's arguments that the row-wise criteria share. */
final class CriterionArguments {

  private CriterionArguments() {}

  /** Every sparsity in [0, 1], else bad input naming the criterion. */
  static void checkSparsities(double[] sparsities, String criterion) {
    for (double s : sparsities) {
      if (!(s >= 0.0 && s <= 1.0)) {
        throw new InvalidInputException("sparsity " + s + " for criterion " + criterion + " is outside [0, 1]");
      }
    }
  }

  /** Tensor names distinct, else a caller's mistake. */
  static void checkDistinct(List<WeightTensor> tensors, String criterion) {
    Set<String> names = new HashSet<>();
    for (WeightTensor tensor : tensors) {
      if (!names.add(tensor.name())) {
        throw new IllegalArgumentException("tensor " + tensor.name() + " is given twice to criterion " + criterion);
      }
    }
  }

  /** The tensor's layout from its consumer in the context; a missing consumer is a caller's mistake. */
  static WeightLayout layout(WeightTensor tensor, CriterionContext context, String criterion) {
    CriterionContext.Consumer consumer = context.consumer(tensor.name()).orElseThrow(() ->
        new IllegalArgumentException("criterion " + criterion + ": tensor " + tensor.name()
            + " has no consumer in the context, so its output rows are unknown"
            + " (CriterionContext.of(prunable tensors) records them)"));
    return WeightLayout.of(tensor, consumer);
  }
}
