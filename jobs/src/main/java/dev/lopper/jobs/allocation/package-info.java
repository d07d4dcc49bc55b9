/**
 * Sparsity allocation: from the measured per-tensor sensitivity curves to one sparsity per tensor.
 * Each policy is a small {@link dev.lopper.jobs.allocation.AllocationPolicy} chosen by name in
 * {@link dev.lopper.jobs.allocation.AllocationPolicies}; nothing here knows of Spark or of the model.
 */
package dev.lopper.jobs.allocation;
