package dev.lopper.jobs.config;

import dev.lopper.jobs.allocation.AllocationSettings;
import dev.lopper.jobs.allocation.CostUnit;

/**
 * How sparsities are allocated from the measured curves (keys {@code allocation.*}).
 *
 * @param policy the policy's name: {@code tolerance}, {@code target}, {@code uniform} or
 *     {@code global-magnitude}
 * @param target the overall sparsity to reach, in (0, 1)
 * @param tolerance the largest predicted drop per tensor (policy {@code tolerance})
 * @param maxSparsity the cap per tensor, resolved: the largest swept sparsity when not configured
 * @param unit what the target is counted in: parameters or FLOPs
 */
public record AllocationConfig(String policy, double target, double tolerance, double maxSparsity, CostUnit unit) {

  /** An allocation counted in parameters. */
  public AllocationConfig(String policy, double target, double tolerance, double maxSparsity) {
    this(policy, target, tolerance, maxSparsity, CostUnit.PARAMETERS);
  }

  /** The numbers the allocation policies take. */
  public AllocationSettings settings() {
    return new AllocationSettings(target, tolerance, maxSparsity);
  }
}
