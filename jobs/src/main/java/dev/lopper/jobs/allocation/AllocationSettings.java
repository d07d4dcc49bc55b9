package dev.lopper.jobs.allocation;

/**
 * The numbers an allocation policy takes (configuration keys {@code allocation.*}).
 *
 * @param target overall sparsity in (0, 1), counted in parameters (target, uniform, global-magnitude)
 * @param tolerance largest predicted drop per tensor, at least 0 (tolerance)
 * @param maxSparsity largest sparsity for any one tensor, in (0, 1] (target, tolerance, uniform)
 */
public record AllocationSettings(double target, double tolerance, double maxSparsity) {

  public AllocationSettings {
    if (!(target > 0 && target < 1)) {
      throw new IllegalArgumentException("target must be in (0, 1), found " + target);
    }
    if (!(tolerance >= 0) || !Double.isFinite(tolerance)) {
      throw new IllegalArgumentException("tolerance must be a finite number >= 0, found " + tolerance);
    }
    if (!(maxSparsity > 0 && maxSparsity <= 1)) {
      throw new IllegalArgumentException("maxSparsity must be in (0, 1], found " + maxSparsity);
    }
  }
}
