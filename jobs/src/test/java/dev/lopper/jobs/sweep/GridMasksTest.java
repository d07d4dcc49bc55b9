package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A sweep's grid masks are chosen once per JVM and item, within the budget, for one sweep at a time. */
class GridMasksTest {
  private static final double[] GRID = {0.25, 0.5, 0.75};

  @AfterEach
  void empty() {
    GridMasks.clear();
  }

  @Test
  void unitsOfOneSweepShareAnItemsMasks() {
    AtomicInteger selections = new AtomicInteger();
    PruningCriterion counting = counting(selections);
    WeightTensor w = WeightTensor.of("w", new long[] {4, 8}, values(32));
    WeightTensor v = WeightTensor.of("v", new long[] {8}, values(8));
    List<MaskSet> first = GridMasks.sharing(counting, "sweep A").selectGrid(List.of(w), GRID, CriterionContext.empty());
    List<MaskSet> second = GridMasks.sharing(counting, "sweep A").selectGrid(List.of(w), GRID, CriterionContext.empty());
    assertSame(first, second);
    assertEquals(1, selections.get());
    assertEquals(Criteria.byName("magnitude").selectGrid(List.of(w), GRID, CriterionContext.empty()), first);
    GridMasks.sharing(counting, "sweep A").selectGrid(List.of(v), GRID, CriterionContext.empty());
    assertEquals(2, selections.get(), "another item is chosen on its own");
    assertEquals(3 * (4 + 1), GridMasks.heldBytes(), "a bit per weight and grid point, in whole bytes");
    // Another sweep (another grid, criterion or model) empties the cache.
    GridMasks.sharing(counting, "sweep B").selectGrid(List.of(w), GRID, CriterionContext.empty());
    assertEquals(3, selections.get());
    assertEquals(3 * 4, GridMasks.heldBytes());
  }

  @Test
  void itemsBeyondTheBudgetAreChosenByEachUnit() {
    AtomicInteger selections = new AtomicInteger();
    WeightTensor w = WeightTensor.of("w", new long[] {4, 8}, values(32));
    // 3 grid points x 4 bytes of bits: more than a budget of 10 bytes.
    PruningCriterion sharing = GridMasks.sharing(counting(selections), "sweep C", 10);
    sharing.selectGrid(List.of(w), GRID, CriterionContext.empty());
    sharing.selectGrid(List.of(w), GRID, CriterionContext.empty());
    assertEquals(2, selections.get(), "no sharing beyond the budget");
    assertEquals(0, GridMasks.heldBytes());
  }

  private static PruningCriterion counting(AtomicInteger selections) {
    PruningCriterion magnitude = Criteria.byName("magnitude");
    return new PruningCriterion() {
      @Override
      public String name() {
        return "magnitude";
      }

      @Override
      public MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
        return magnitude.select(tensors, sparsity, context);
      }

      @Override
      public List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities, CriterionContext context) {
        selections.incrementAndGet();
        return magnitude.selectGrid(tensors, sparsities, context);
      }
    };
  }

  private static float[] values(int n) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (i * 37 % n) - n / 2f;
    }
    return out;
  }
}
