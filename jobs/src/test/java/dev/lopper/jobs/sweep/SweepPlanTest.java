package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SweepPlanTest {

  @Test
  void spreadsOneFullPartitionBesideAnEmptyOneOverEveryCore() {
    // A one-row-group Parquet file read as two partitions: all 16384 rows in the first.
    SweepPlan plan = SweepPlan.of(new int[] {16384, 0}, 256, 2, 6, 0);
    assertEquals(4, plan.slices(), "twice the cores");
    assertEquals(1, plan.groups().size(), "enough data: every unit sweeps every item");
    for (SweepPlan.Unit u : plan.units()) {
      assertEquals(0, u.partition());
      assertEquals(4096, u.to() - u.from(), "equal slices: " + u);
      assertEquals(List.of(0, 1, 2, 3, 4, 5), u.items());
    }
    assertCoversEveryRowOnce(plan, new int[] {16384, 0});
  }

  @Test
  void cutsSlicesAtWholeBatchesAndCoversUnevenPartitions() {
    int[] rows = {1000, 37, 0, 5000};
    SweepPlan plan = SweepPlan.of(rows, 64, 4, 3, 0);
    assertCoversEveryRowOnce(plan, rows);
    for (SweepPlan.Unit u : plan.units()) {
      assertEquals(0, u.from() % 64, "a slice starts at a batch boundary of its partition: " + u);
      assertTrue(u.to() % 64 == 0 || u.to() == rows[u.partition()], "and ends at one or at the partition's end: " + u);
    }
    // 16 + 1 + 79 = 96 batches over about 8 slices: none more than a slice's share (12) plus one batch.
    int largest = plan.units().stream().mapToInt(u -> (u.to() - u.from() + 63) / 64).max().orElseThrow();
    assertTrue(largest <= 12, "largest slice " + largest + " batches");
  }

  @Test
  void splitsItemsOnlyWhenTheDataCannotFillTheCores() {
    SweepPlan tiny = SweepPlan.of(new int[] {100}, 256, 8, 3, 0);
    assertEquals(1, tiny.slices());
    assertEquals(List.of(List.of(0), List.of(1), List.of(2)), tiny.groups(), "one item per unit, at most the items");

    SweepPlan small = SweepPlan.of(new int[] {600}, 256, 2, 5, 0);
    assertEquals(3, small.slices(), "three batches, three slices");
    assertEquals(List.of(List.of(0, 2, 4), List.of(1, 3)), small.groups());
  }

  @Test
  void itemsPerTaskFixesTheGroups() {
    SweepPlan plan = SweepPlan.of(new int[] {4096, 4096}, 256, 2, 3, 1);
    assertEquals(List.of(List.of(0), List.of(1), List.of(2)), plan.groups());
    assertEquals(2, plan.slices(), "ceil(4 units wanted / 3 groups) slices");
    assertCoversEveryRowOnce(plan, new int[] {4096, 4096});
  }

  @Test
  void slicesStayBelowTwiceTheCoresPlusTheNonEmptyPartitions() {
    SplittableRandom random = new SplittableRandom(7);
    for (int trial = 0; trial < 500; trial++) {
      int[] rows = new int[1 + random.nextInt(12)];
      for (int p = 0; p < rows.length; p++) {
        rows[p] = random.nextInt(4) == 0 ? 0 : random.nextInt(5000);
      }
      if (Arrays.stream(rows).sum() == 0) {
        rows[0] = 1;
      }
      int batch = 1 + random.nextInt(300);
      int cores = 1 + random.nextInt(16);
      int items = 1 + random.nextInt(20);
      SweepPlan plan = SweepPlan.of(rows, batch, cores, items, random.nextInt(3) == 0 ? 1 + random.nextInt(5) : 0);
      long nonEmpty = Arrays.stream(rows).filter(r -> r > 0).count();
      assertTrue(plan.slices() < 2 * cores + nonEmpty,
          plan.slices() + " slices for " + Arrays.toString(rows) + ", batch " + batch + ", " + cores + " cores");
      assertCoversEveryRowOnce(plan, rows);
    }
  }

  /** Every row of every partition in exactly one slice; each slice has every item once and one baseline. */
  private static void assertCoversEveryRowOnce(SweepPlan plan, int[] rows) {
    Map<Integer, int[]> covered = new HashMap<>();
    Map<Integer, SweepPlan.Unit> sliceOf = new HashMap<>();
    Map<Integer, Integer> baselines = new HashMap<>();
    Map<Integer, Integer> items = new HashMap<>();
    for (SweepPlan.Unit u : plan.units()) {
      SweepPlan.Unit first = sliceOf.putIfAbsent(u.slice(), u);
      if (first == null) {
        int[] c = covered.computeIfAbsent(u.partition(), p -> new int[rows[p]]);
        for (int r = u.from(); r < u.to(); r++) {
          c[r]++;
        }
      } else {
        assertEquals(first.partition(), u.partition());
        assertEquals(first.from(), u.from());
        assertEquals(first.to(), u.to());
      }
      baselines.merge(u.slice(), u.baseline() ? 1 : 0, Integer::sum);
      items.merge(u.slice(), u.items().size(), Integer::sum);
    }
    assertEquals(plan.slices(), sliceOf.size());
    for (int p = 0; p < rows.length; p++) {
      int[] c = covered.getOrDefault(p, new int[rows[p]]);
      for (int r = 0; r < rows[p]; r++) {
        assertEquals(1, c[r], "partition " + p + " row " + r);
      }
    }
    int itemCount = plan.groups().stream().mapToInt(List::size).sum();
    baselines.forEach((slice, n) -> assertEquals(1, n, "baselines of slice " + slice));
    items.forEach((slice, n) -> assertEquals(itemCount, n, "items of slice " + slice));
  }
}
