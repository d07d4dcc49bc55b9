package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The allocation policies configuration can name.
 *
 * <pre>{@code
 * AllocationPolicy policy = AllocationPolicies.byName(config.allocation().policy(), () -> fractions);
 * Allocation allocation = policy.allocate(curves, config.allocation().settings());
 * }</pre>
 */
public final class AllocationPolicies {

  /** Every policy name, in the order of the documentation. */
  public static final List<String> NAMES = List.of("target", "tolerance", "uniform", "owl", "global-magnitude");

  private AllocationPolicies() {}

  /**
   * The policy named {@code name}.
   *
   * @param globalMagnitudeFractions called only for {@code global-magnitude}: tensor name to the
   *     fraction a global magnitude threshold at the target prunes
   */
  public static AllocationPolicy byName(String name, Supplier<Map<String, Double>> globalMagnitudeFractions) {
    return switch (name) {
      case "target" -> new TargetAllocation();
      case "tolerance" -> new ToleranceAllocation();
      case "uniform" -> new UniformAllocation();
      case "global-magnitude" -> new GlobalMagnitudeAllocation(globalMagnitudeFractions.get());
      case "owl" -> throw new IllegalArgumentException("policy owl allocates from calibration statistics, not from "
          + "curves: the pipeline's CalibratedPruning computes it");
      default -> throw new InvalidInputException("unknown allocation policy '" + name + "'; known policies: "
          + String.join(", ", NAMES));
    };
  }
}
