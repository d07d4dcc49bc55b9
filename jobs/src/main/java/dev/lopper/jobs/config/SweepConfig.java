package dev.lopper.jobs.config;

import java.util.List;

/**
 * What the sensitivity sweep measures (keys {@code sweep.*}).
 *
 * @param criterion the criterion's name as configured ({@code magnitude}, {@code l1-unstructured} or
 *     {@code global-magnitude})
 * @param sparsities the grid, ascending, without duplicates, each in (0, 1]
 * @param tensorsPerTask prunable tensors per task, 0 for automatic
 */
public record SweepConfig(String criterion, List<Double> sparsities, int tensorsPerTask) {

  public SweepConfig {
    sparsities = List.copyOf(sparsities);
  }

  /** The largest swept sparsity. */
  public double maxSparsity() {
    return sparsities.get(sparsities.size() - 1);
  }

  /** The grid as an array. */
  public double[] grid() {
    return sparsities.stream().mapToDouble(Double::doubleValue).toArray();
  }
}
