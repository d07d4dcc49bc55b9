package dev.lopper.jobs.config;

import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.SparsityPattern;
import java.util.List;

/**
 * What the sensitivity sweep measures (keys {@code sweep.*}).
 *
 * @param criterion the criterion's name as configured ({@code magnitude}, {@code l1-unstructured},
 *     {@code global-magnitude}, {@code wanda}, {@code sparsegpt}, {@code channel-l1}, {@code channel-l2})
 * @param sparsities the grid, ascending, without duplicates, each in (0, 1]
 * @param tensorsPerTask prunable tensors per task, 0 for automatic
 * @param pattern where pruned weights may fall: unstructured or N:M
 * @param run {@code auto} (command prune sweeps only when the allocation policy needs measured curves)
 *     or {@code always}
 * @param compensate key {@code structure.compensate}: bias compensation of removed channels, or null
 *     for the criterion's default (see {@link #compensates()})
 */
public record SweepConfig(String criterion, List<Double> sparsities, int tensorsPerTask, SparsityPattern pattern,
    String run, Boolean compensate) {

  public SweepConfig {
    sparsities = List.copyOf(sparsities);
  }

  /** An unstructured sweep, run as {@code auto} decides. */
  public SweepConfig(String criterion, List<Double> sparsities, int tensorsPerTask) {
    this(criterion, sparsities, tensorsPerTask, SparsityPattern.UNSTRUCTURED, "auto", null);
  }

  /** Whether removed channels are compensated: as configured, else for the activation-aware channel criteria. */
  public boolean compensates() {
    if (compensate != null) {
      return compensate;
    }
    return Criteria.byName(criterion) instanceof ChannelCriterion c && c.needsStatistics();
  }

  /** Whether a structured run reads calibration statistics: an activation-aware channel criterion or compensation. */
  public boolean channelStatistics() {
    return Criteria.byName(criterion) instanceof ChannelCriterion c && (c.needsStatistics() || compensates());
  }

  /** The largest swept sparsity. */
  public double maxSparsity() {
    return sparsities.get(sparsities.size() - 1);
  }

  /**
   * The grid as an array. Under an N:M pattern a tensor is either dense or at the pattern's
   * sparsity, so the grid is that one sparsity.
   */
  public double[] grid() {
    if (pattern.isNm()) {
      return new double[] {pattern.sparsity()};
    }
    return sparsities.stream().mapToDouble(Double::doubleValue).toArray();
  }
}
