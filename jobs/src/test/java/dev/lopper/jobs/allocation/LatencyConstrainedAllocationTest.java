package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The target policy under a predicted speed-up constraint, on curves written out by hand whose
 * best allocations are worked out below by enumerating the 4 x 4 channel counts.
 *
 * <p>Two groups of 4 channels that each save 100 parameters when fully pruned (200 in all; target
 * 0.5 = 100 parameters), capped at 3 of 4 channels. "fast" is expensive in accuracy but saves
 * latency (like conv1 of the sample CNN, whose channels are conv2's input channels); "free" is
 * cheap in accuracy and saves no time (like conv2's output channels inside one 16-channel block).
 */
class LatencyConstrainedAllocationTest {

  private static final double[] S = {0.25, 0.5, 0.75};
  private static final SensitivityCurve FAST = new SensitivityCurve("fast", null, 1000, S,
      new double[] {0.05, 0.10, 0.20}, 100, 4);
  private static final SensitivityCurve FREE = new SensitivityCurve("free", null, 1000, S,
      new double[] {0.01, 0.02, 0.03}, 100, 4);
  private static final Map<String, LatencyCurve> LATENCY = Map.of(
      "fast", new LatencyCurve("fast", S, new double[] {0.2, 0.4, 0.6}),
      "free", new LatencyCurve("free", S, new double[] {0.0, 0.0, -0.01}));
  private static final ToDoubleFunction<Map<String, Double>> REMOVED = s -> (100 * s.get("fast") + 100 * s.get("free"))
      / 200;
  private static final AllocationSettings HALF = new AllocationSettings(0.5, 0.01, 0.9);

  private static LatencyConstrainedAllocation.Result reach(double minSpeedup) {
    return LatencyConstrainedAllocation.reach(new TargetAllocation(), List.of(FAST, FREE), LATENCY, HALF, minSpeedup,
        REMOVED);
  }

  private static Map<String, Double> chosen(LatencyConstrainedAllocation.Result r) {
    return r.calibrated().allocation().sparsities();
  }

  @Test
  void keepsThePlainAllocationWhenItIsAlreadyFastEnough() {
    // Plain optimum: fast 1/4 + free 3/4 (drop 0.08; fast 2/4 + free 2/4 would be 0.12).
    // Latency 1 - 0.2 + 0.01 = 0.81: 1.235x.
    LatencyConstrainedAllocation.Result r = reach(1.2);
    assertEquals(Map.of("fast", 0.25, "free", 0.75), chosen(r));
    assertEquals(0.0, r.multiplier());
    assertEquals(1 / 0.81, r.predictedSpeedup(), 1e-12);
    assertEquals(1 / 0.81, r.unconstrainedSpeedup(), 1e-12);
    assertEquals(0.08, r.calibrated().allocation().predictedDrop(), 1e-12);
  }

  @Test
  void aSpeedUpConstraintMovesPruningToTheGroupThatSavesTime() {
    // 1.5x needs a saving of 1/3: fast at 2/4 (0.4, 1.667x). With fast at 2/4 the target needs free >= 2/4:
    // drop 0.10 + 0.02 = 0.12; fast 3/4 + free 1/4 costs 0.21. The constrained optimum is (2/4, 2/4).
    LatencyConstrainedAllocation.Result r = reach(1.5);
    assertEquals(Map.of("fast", 0.5, "free", 0.5), chosen(r));
    assertTrue(r.multiplier() > 0, "the constraint binds");
    assertEquals(1 / 0.6, r.predictedSpeedup(), 1e-12);
    assertEquals(1 / 0.81, r.unconstrainedSpeedup(), 1e-12);
    // The reported drops are the sweep's, not the penalised ones.
    assertEquals(0.12, r.calibrated().allocation().predictedDrop(), 1e-12);
    assertEquals(0.5, r.calibrated().removed(), 1e-12);
  }

  @Test
  void aStricterConstraintTakesTheFastGroupToItsCap() {
    // 2x needs a saving of 1/2: only fast at 3/4 (0.6, 2.5x); free then needs 1/4 for the target: drop 0.21.
    LatencyConstrainedAllocation.Result r = reach(2.0);
    assertEquals(Map.of("fast", 0.75, "free", 0.25), chosen(r));
    assertEquals(2.5, r.predictedSpeedup(), 1e-12);
    assertEquals(0.21, r.calibrated().allocation().predictedDrop(), 1e-12);
  }

  @Test
  void refusesASpeedUpNoAllocationIsPredictedToReachNamingTheLargest() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> reach(3.0));
    assertTrue(e.getMessage().startsWith("allocation.min-speedup: a predicted speed-up of 3.0 cannot be reached"),
        e.getMessage());
    assertTrue(e.getMessage().contains("the largest predicted speed-up is 2.500"), e.getMessage());
  }

  @Test
  void predictsSpeedUpFromSavingsAddedAndInterpolated() {
    // fast at 3/8: halfway between savings 0.2 and 0.4; free at 3/4 loses 0.01: latency 1 - 0.3 + 0.01.
    assertEquals(1 / 0.71, LatencyConstrainedAllocation.predictedSpeedup(Map.of("fast", 0.375, "free", 0.75),
        LATENCY), 1e-12);
    assertEquals(1.0, LatencyConstrainedAllocation.predictedSpeedup(Map.of("fast", 0.0, "other", 0.5), LATENCY));
    assertEquals(Double.POSITIVE_INFINITY, LatencyConstrainedAllocation.predictedSpeedup(Map.of("a", 0.5),
        Map.of("a", new LatencyCurve("a", new double[] {0.5}, new double[] {1.0}))));
  }

  @Test
  void penalisesDropsByTheSavingAtTheUnionOfBothCurvesPoints() {
    SensitivityCurve coarse = new SensitivityCurve("g", null, 10, new double[] {0.5, 1.0},
        new double[] {0.1, 0.4}, 10, 0);
    LatencyCurve fine = new LatencyCurve("g", new double[] {0.25, 0.5, 1.0}, new double[] {0.1, 0.1, 0.3});
    SensitivityCurve p = LatencyConstrainedAllocation.penalised(List.of(coarse), Map.of("g", fine), 2.0).get(0);
    assertArrayEquals(new double[] {0.25, 0.5, 1.0}, p.sparsities());
    assertArrayEquals(new double[] {0.05 - 0.2, 0.1 - 0.2, 0.4 - 0.6}, p.drops(), 1e-12);
    SensitivityCurve onlyLatency = LatencyConstrainedAllocation.penalised(List.of(coarse), Map.of("g", fine),
        Double.POSITIVE_INFINITY).get(0);
    assertArrayEquals(new double[] {-0.1, -0.1, -0.3}, onlyLatency.drops(), 1e-12);
    assertEquals(10, onlyLatency.cost());
  }

  /**
   * On random curves of three groups (4, 8 and 5 channels, drops and savings random walks), whatever
   * is returned reaches the target and the speed-up asked, and its drop is never below the true
   * optimum under both constraints (enumerated over every channel count).
   */
  @Test
  void randomCurvesReturnFeasibleAllocationsNoBetterThanTheEnumeratedOptimum() {
    long[] channels = {4, 8, 5};
    double[] cost = {300, 150, 90};
    Random random = new Random(7);
    int met = 0;
    for (int trial = 0; trial < 60; trial++) {
      List<SensitivityCurve> curves = new ArrayList<>();
      Map<String, LatencyCurve> latency = new java.util.HashMap<>();
      for (int g = 0; g < 3; g++) {
        int n = (int) channels[g] - 1;
        double[] s = new double[n];
        double[] d = new double[n];
        double[] v = new double[n];
        double drop = 0;
        double saving = 0;
        for (int k = 1; k <= n; k++) {
          drop += random.nextDouble() * 0.05;
          saving += random.nextDouble() * 0.12 - 0.02;
          s[k - 1] = k / (double) channels[g];
          d[k - 1] = drop;
          v[k - 1] = saving;
        }
        curves.add(new SensitivityCurve("g" + g, null, 1000, s, d, cost[g], channels[g]));
        latency.put("g" + g, new LatencyCurve("g" + g, s, v));
      }
      ToDoubleFunction<Map<String, Double>> removed = m -> (cost[0] * m.get("g0") + cost[1] * m.get("g1")
          + cost[2] * m.get("g2")) / (cost[0] + cost[1] + cost[2]);
      double minSpeedup = 1.1 + random.nextDouble() * 0.4;
      AllocationSettings settings = new AllocationSettings(0.3 + random.nextDouble() * 0.3, 0.01, 0.9);
      double best = Double.POSITIVE_INFINITY;
      for (int a = 0; a < channels[0]; a++) {
        for (int b = 0; b < channels[1]; b++) {
          for (int c = 0; c < channels[2]; c++) {
            Map<String, Double> m = Map.of("g0", a / 4.0, "g1", b / 8.0, "g2", c / 5.0);
            if (removed.applyAsDouble(m) >= settings.target() - 1e-12
                && LatencyConstrainedAllocation.predictedSpeedup(m, latency) >= minSpeedup) {
              double drop = 0;
              for (SensitivityCurve curve : curves) {
                drop += m.get(curve.tensor()) == 0 ? 0 : curve.dropAt(m.get(curve.tensor()));
              }
              best = Math.min(best, drop);
            }
          }
        }
      }
      try {
        LatencyConstrainedAllocation.Result r = LatencyConstrainedAllocation.reach(new TargetAllocation(), curves,
            latency, settings, minSpeedup, removed);
        Map<String, Double> m = chosen(r);
        assertTrue(removed.applyAsDouble(m) >= settings.target() - 1e-12, "trial " + trial);
        assertTrue(r.predictedSpeedup() >= minSpeedup, "trial " + trial);
        assertEquals(LatencyConstrainedAllocation.predictedSpeedup(m, latency), r.predictedSpeedup(), 1e-12);
        assertTrue(r.calibrated().allocation().predictedDrop() >= best - 1e-12, "trial " + trial);
        met++;
      } catch (InvalidInputException e) {
        assertTrue(e.getMessage().startsWith("allocation.min-speedup"), e.getMessage());
      }
    }
    assertTrue(met > 20, "most trials are feasible: " + met);
  }
}
