/**
 * Sparsity allocation: from the measured per-tensor sensitivity curves to one sparsity per tensor.
 * Each policy is a small {@link dev.lopper.jobs.allocation.AllocationPolicy} chosen by name in
 * {@link dev.lopper.jobs.allocation.AllocationPolicies}; nothing here knows of Spark or of the model. The rows of the tables a run writes about its
 * allocation are here too: {@link dev.lopper.jobs.allocation.TensorAllocation} (the allocation
 * table), and for structured runs {@link dev.lopper.jobs.allocation.ChannelAllocationRow}, {@link
 * dev.lopper.jobs.allocation.LatencyRow} and {@link dev.lopper.jobs.allocation.CostRow}.
 */
package dev.lopper.jobs.allocation;
