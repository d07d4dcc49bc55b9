package dev.lopper.criteria;

import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.List;
import java.util.Map;

/**
 * A criterion that not only chooses what to prune but also rewrites the weights it keeps, to make up
 * for what was pruned (SparseGPT's OBS reconstruction). Its variants are its {@link PrunedWeights},
 * not the dense weights under a mask: sweeps evaluate them and emission writes them.
 */
public interface ReconstructingCriterion extends PruningCriterion {

  /**
   * For each of {@code sparsities}, in order, the masks and the replacement weights of {@code
   * tensors} (pruned positions zero, the others updated).
   */
  List<PrunedWeights> pruneGrid(List<WeightTensor> tensors, double[] sparsities, CriterionContext context);

  @Override
  default MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
    return pruneGrid(tensors, new double[] {sparsity}, context).get(0).masks();
  }

  @Override
  default List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities, CriterionContext context) {
    return pruneGrid(tensors, sparsities, context).stream().map(PrunedWeights::masks).toList();
  }

  /**
   * One variant of a reconstructing criterion.
   *
   * @param masks which positions were pruned, one mask per tensor
   * @param weights the tensors' new values by name, of the dense tensors' shapes
   */
  record PrunedWeights(MaskSet masks, Map<String, WeightTensor> weights) {
    public PrunedWeights {
      weights = Map.copyOf(weights);
    }
  }
}
