package dev.lopper.jobs.config;

import dev.lopper.jobs.allocation.AllocationSettings;
import dev.lopper.jobs.allocation.CostUnit;

/**
 * How sparsities are allocated from the measured curves (keys {@code allocation.*}).
 *
 * @param policy the policy's name: {@code tolerance}, {@code target}, {@code uniform} or
 *     {@code global-magnitude}
 * @param target the overall sparsity to reach, in (0, 1)
 * @param targetNamed false only when {@code allocation.min-speedup} is given and the configuration
 *     names no {@code allocation.target}: the default target then does not apply, and the speed-up
 *     alone decides what goes
 * @param tolerance the largest predicted drop per tensor (policy {@code tolerance})
 * @param maxSparsity the cap per tensor, resolved: the largest swept sparsity when not configured
 * @param unit what the target is counted in: parameters or FLOPs
 * @param minSpeedup the smallest predicted (and measured) speed-up of a structured run, above 1, or
 *     null when latency is not considered
 * @param latencyBatch rows per run when latency is measured, positive
 * @param latencySequence tokens per row when latency is measured on a model of token inputs, positive
 * @param owlM policy owl: the outlier threshold, a multiple of a group's mean Wanda score
 * @param owlLambda policy owl: how far a group's sparsity may lie from the target
 */
public record AllocationConfig(String policy, double target, boolean targetNamed, double tolerance,
    double maxSparsity, CostUnit unit, Double minSpeedup, int latencyBatch, int latencySequence, double owlM, double owlLambda) {

  /** Policy owl's outlier threshold unless configured (OWL's default). */
  public static final double DEFAULT_OWL_M = 5.0;
  /** Policy owl's range around the target unless configured (OWL's default). */
  public static final double DEFAULT_OWL_LAMBDA = 0.08;

  /** Rows per run when latency is measured, unless configured. */
  public static final int DEFAULT_LATENCY_BATCH = 256;

  /** Tokens per row when latency is measured on a token model, unless configured. */
  public static final int DEFAULT_LATENCY_SEQUENCE = 128;

  public AllocationConfig {
    if (minSpeedup != null && !(minSpeedup > 1 && Double.isFinite(minSpeedup))) {
      throw new IllegalArgumentException("minSpeedup must be a finite number above 1 or null, found " + minSpeedup);
    }
    if (latencyBatch < 1) {
      throw new IllegalArgumentException("latencyBatch must be positive, found " + latencyBatch);
    }
    if (latencySequence < 1) {
      throw new IllegalArgumentException("latencySequence must be positive, found " + latencySequence);
    }
  }

  /** An allocation counted in parameters, without a speed-up constraint. */
  public AllocationConfig(String policy, double target, double tolerance, double maxSparsity) {
    this(policy, target, tolerance, maxSparsity, CostUnit.PARAMETERS);
  }

  /** An allocation without a speed-up constraint. */
  public AllocationConfig(String policy, double target, double tolerance, double maxSparsity, CostUnit unit) {
    this(policy, target, true, tolerance, maxSparsity, unit, null, DEFAULT_LATENCY_BATCH, DEFAULT_LATENCY_SEQUENCE, DEFAULT_OWL_M,
        DEFAULT_OWL_LAMBDA);
  }

  /** The numbers the allocation policies take. */
  public AllocationSettings settings() {
    return new AllocationSettings(target, tolerance, maxSparsity);
  }
}
