package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.Arrays;
import java.util.List;

/**
 * What an allocation target is counted in (configuration key {@code allocation.unit}).
 *
 * <p>FLOPs are counted as multiply-accumulates per sample of the Conv, Gemm and MatMul nodes (one
 * multiply-accumulate is two FLOPs; fractions and ratios are the same either way), from the graph
 * and the input shape ({@code dev.lopper.structure.ModelCost}).
 */
public enum CostUnit {
  /** Weight elements. */
  PARAMETERS("parameters"),
  /** Multiply-accumulates per sample. */
  FLOPS("flops");

  private final String configName;

  CostUnit(String configName) {
    this.configName = configName;
  }

  /** The name configuration uses. */
  public String configName() {
    return configName;
  }

  /** Every configuration name, in declaration order. */
  public static List<String> names() {
    return Arrays.stream(values()).map(CostUnit::configName).toList();
  }

  /** The unit named {@code name} in configuration. */
  public static CostUnit fromName(String name) {
    for (CostUnit u : values()) {
      if (u.configName.equals(name)) {
        return u;
      }
    }
    throw new InvalidInputException("unknown allocation unit '" + name + "'; known units: " + String.join(", ", names()));
  }
}
