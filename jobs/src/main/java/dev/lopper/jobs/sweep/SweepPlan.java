package dev.lopper.jobs.sweep;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How a sweep's work is cut into Spark tasks: units of (data slice × item group).
 *
 * <p>A <em>slice</em> is a run of whole batches of one decoded data partition. Slices are cut so
 * that all of them hold about the same number of batches (at most ⌈batches / (2 × cores)⌉) and
 * there are about twice as many as cores — fewer than twice the cores plus the non-empty partitions
 * — whatever the input's partitioning: a Parquet file of one row group is read as one
 * non-empty partition beside empty ones, and per-partition units would then leave cores idle.
 * Slices read the cached partition in place: nothing is shuffled or copied.
 *
 * <p>Each unit computes its slice's dense pass once and evaluates its items' variants on it, so
 * the dense pass (and every cut activation prefix reuse keeps) is computed once per slice and item
 * group. Items are split into groups only when the data is too small to give every core a slice
 * (fewer batches than twice the cores), or when {@code sweep.tensors-per-task} asks for it.
 *
 * @param units the units, each one Spark task
 * @param slices the number of data slices; every variant's tally arrives once per slice
 */
public record SweepPlan(List<Unit> units, int slices) implements Serializable {

  /**
   * One Spark task's work.
   *
   * @param slice the data slice's index, 0 … slices − 1
   * @param partition the decoded data partition the slice lies in
   * @param from the slice's first row in the partition
   * @param to the row after the slice's last
   * @param items indices into the sweep's items
   * @param baseline whether this unit also reports the dense baseline of its slice (exactly one
   *     unit per slice does)
   */
  public record Unit(int slice, int partition, int from, int to, List<Integer> items, boolean baseline)
      implements Serializable {
    public Unit {
      items = List.copyOf(items);
    }
  }

  public SweepPlan {
    units = List.copyOf(units);
  }

  /**
   * The plan for data of {@code rowsPerPartition} rows (by partition index) in batches of {@code
   * batchSize}, {@code items} swept items, on {@code cores} cores; {@code itemsPerTask} > 0 fixes
   * the items per unit, 0 chooses.
   */
  public static SweepPlan of(int[] rowsPerPartition, int batchSize, int cores, int items, int itemsPerTask) {
    if (batchSize <= 0 || items <= 0) {
      throw new IllegalArgumentException("batch size " + batchSize + " and items " + items + " must be positive");
    }
    int target = 2 * Math.max(1, cores);
    long batches = 0;
    for (int rows : rowsPerPartition) {
      batches += batchesOf(rows, batchSize);
    }
    int fixedGroups = itemsPerTask > 0 ? (items + itemsPerTask - 1) / itemsPerTask : 0;
    int wantedSlices = fixedGroups > 0 ? Math.max(1, (target + fixedGroups - 1) / fixedGroups) : target;
    long batchesPerSlice = Math.max(1, (batches + wantedSlices - 1) / wantedSlices);

    List<int[]> slices = new ArrayList<>(); // partition, from, to
    for (int p = 0; p < rowsPerPartition.length; p++) {
      int rows = rowsPerPartition[p];
      long b = batchesOf(rows, batchSize);
      if (b == 0) {
        continue;
      }
      int count = (int) ((b + batchesPerSlice - 1) / batchesPerSlice);
      for (int k = 0; k < count; k++) {
        // Slice k of this partition: batches [b*k/count, b*(k+1)/count), as even as whole batches allow.
        long fromBatch = b * k / count;
        long toBatch = b * (k + 1) / count;
        int from = (int) Math.min(rows, fromBatch * batchSize);
        int to = (int) Math.min(rows, toBatch * batchSize);
        slices.add(new int[] {p, from, to});
      }
    }

    int groupCount = fixedGroups > 0 ? fixedGroups
        : Math.min(items, Math.max(1, (target + slices.size() - 1) / Math.max(1, slices.size())));
    List<List<Integer>> groups = new ArrayList<>();
    for (int g = 0; g < groupCount; g++) {
      groups.add(new ArrayList<>());
    }
    for (int i = 0; i < items; i++) {
      groups.get(i % groupCount).add(i);
    }

    List<Unit> units = new ArrayList<>(slices.size() * groupCount);
    for (int s = 0; s < slices.size(); s++) {
      int[] slice = slices.get(s);
      for (int g = 0; g < groupCount; g++) {
        units.add(new Unit(s, slice[0], slice[1], slice[2], groups.get(g), g == 0));
      }
    }
    return new SweepPlan(units, slices.size());
  }

  /** The item groups, in order (the items of the units of slice 0). */
  public List<List<Integer>> groups() {
    return units.stream().filter(u -> u.slice() == 0).map(Unit::items).toList();
  }

  private static long batchesOf(int rows, int batchSize) {
    return (rows + (long) batchSize - 1) / batchSize;
  }
}
