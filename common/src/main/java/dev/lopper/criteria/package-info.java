/**
 * Pruning criteria: given weight tensors and a target sparsity, which positions to prune. One
 * interface, {@link dev.lopper.criteria.PruningCriterion}, that every criterion implements:
 * unstructured magnitude, structured channel norms and FLAP's activation-aware channel scores
 * ({@link dev.lopper.criteria.ChannelCriterion}; with bias compensation in a sweep's variants,
 * {@link dev.lopper.criteria.CompensatingChannelCriterion}), the activation-aware {@link
 * dev.lopper.criteria.WandaCriterion} and, rewriting the weights it keeps, {@link
 * dev.lopper.criteria.SparseGptCriterion} (a {@link dev.lopper.criteria.ReconstructingCriterion});
 * N:M patterns for the row-wise ones, whose rows are a {@link dev.lopper.criteria.WeightLayout};
 * OWL's per-block sparsities ({@link dev.lopper.criteria.OwlRatios}); the {@link
 * dev.lopper.criteria.CriterionContext} that carries what a criterion may need beyond the weights
 * (consumers, calibration statistics, the pattern); and the registry by configuration name, {@link
 * dev.lopper.criteria.Criteria}. The activation-aware maths are ports of the reference
 * implementations, tested against data/pruning_reference.py.
 */
package dev.lopper.criteria;
