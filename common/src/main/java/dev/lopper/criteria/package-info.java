/**
 * Pruning criteria: given weight tensors and a target sparsity, which positions to prune. One
 * interface, {@link dev.lopper.criteria.PruningCriterion}, that every criterion implements
 * (unstructured magnitude, structured channel norms; N:M and activation-aware ones later), the {@link
 * dev.lopper.criteria.CriterionContext} that carries what a criterion may need beyond the weights,
 * and the registry by configuration name, {@link dev.lopper.criteria.Criteria}.
 */
package dev.lopper.criteria;
