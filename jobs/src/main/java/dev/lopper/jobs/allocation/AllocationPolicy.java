package dev.lopper.jobs.allocation;

import java.util.List;

/**
 * Chooses a sparsity for every tensor from its measured sensitivity curve.
 *
 * <p>Implementations are small, stateless apart from their construction arguments, and chosen by
 * name with {@link AllocationPolicies#byName}.
 */
public interface AllocationPolicy {

  /** The policy's configuration name, e.g. {@code target}. */
  String name();

  /**
   * Allocates sparsities.
   *
   * @param curves one curve per tensor, distinct names, at least one
   * @param settings target, tolerance and cap
   * @return one entry per curve, in the curves' order
   * @throws dev.lopper.InvalidInputException when the settings cannot be met by these curves (a
   *     target above what the cap allows)
   */
  Allocation allocate(List<SensitivityCurve> curves, AllocationSettings settings);
}
