package dev.lopper.criteria;

import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides which positions of weight tensors to prune for a target sparsity.
 *
 * <p>A local criterion prunes {@code sparsity} of each tensor on its own; a global one prunes
 * {@code sparsity} of all given tensors together, so single tensors may end up sparser or denser.
 * Either way the answer holds one mask per given tensor, in the given order. What a criterion needs
 * beyond the weights (the consuming op, later activation statistics) comes in the {@link
 * CriterionContext}, so that new criteria need no new parameters.
 *
 * <pre>{@code
 * PruningCriterion criterion = Criteria.byName("magnitude");
 * MaskSet masks = criterion.select(tensors, 0.5, CriterionContext.empty());
 * }</pre>
 *
 * <p>Implementations are stateless and safe to share between threads.
 */
public interface PruningCriterion {

  /** The name configuration uses for this criterion, e.g. {@code magnitude}. */
  String name();

  /**
   * Masks that prune {@code sparsity} of {@code tensors} (per tensor or jointly, as the criterion
   * defines), one per tensor in the given order.
   *
   * @param tensors tensors with distinct names
   * @param sparsity the fraction to prune, in [0, 1]
   * @param context what the criterion may need beyond the weights
   * @throws dev.lopper.InvalidInputException when the sparsity is outside [0, 1] or a tensor
   *     cannot be judged (e.g. holds NaN)
   */
  MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context);

  /**
   * {@link #select} for each of {@code sparsities}, in their order: a sensitivity sweep's grid.
   * Results are identical to calling {@code select} once per sparsity; criteria that can share
   * work between sparsities (one ordering pass for the whole grid) override this.
   */
  default List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    List<MaskSet> out = new ArrayList<>(sparsities.length);
    for (double sparsity : sparsities) {
      out.add(select(tensors, sparsity, context));
    }
    return out;
  }
}
