package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The target policy against exhaustive enumeration and against the uniform baseline, on seeded
 * random convex and non-convex curves.
 */
class TargetAllocationSearchTest {

  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  /** Convex: increments drawn at random and sorted ascending. */
  private static SensitivityCurve convex(String name, long parameters, Random random) {
    double[] increments = new double[GRID.length];
    for (int i = 0; i < increments.length; i++) {
      increments[i] = random.nextDouble() * 0.05;
    }
    java.util.Arrays.sort(increments);
    double[] drops = new double[GRID.length];
    double d = 0;
    for (int i = 0; i < GRID.length; i++) {
      d += increments[i];
      drops[i] = d;
    }
    return new SensitivityCurve(name, parameters, GRID, drops);
  }

  /** Non-convex, not even monotone: a random walk with an upward drift. */
  private static SensitivityCurve bumpy(String name, long parameters, Random random) {
    double[] drops = new double[GRID.length];
    double d = 0;
    for (int i = 0; i < GRID.length; i++) {
      d += random.nextDouble() * 0.04 - 0.01;
      drops[i] = d;
    }
    return new SensitivityCurve(name, parameters, GRID, drops);
  }

  /** The optimum over every combination of sparsities in {0, 0.1, ..., 0.9}: the truth for step 0.1. */
  private static double bruteForce(List<SensitivityCurve> curves, double target) {
    double[] choices = new double[GRID.length + 1];
    System.arraycopy(GRID, 0, choices, 1, GRID.length);
    long total = curves.stream().mapToLong(SensitivityCurve::parameters).sum();
    int m = curves.size();
    int[] index = new int[m];
    double best = Double.POSITIVE_INFINITY;
    while (true) {
      double pruned = 0;
      double cost = 0;
      for (int t = 0; t < m; t++) {
        pruned += curves.get(t).parameters() * choices[index[t]];
        cost += curves.get(t).dropAt(choices[index[t]]);
      }
      if (pruned >= target * total - 1e-9 && cost < best) {
        best = cost;
      }
      int t = 0;
      while (t < m && ++index[t] == choices.length) {
        index[t++] = 0;
      }
      if (t == m) {
        return best;
      }
    }
  }

  /**
   * The largest drop increase along any hull segment is at most a curve's range (max minus min over
   * [0, cap]): a bound on the documented gap that needs no hull.
   */
  private static double largestRange(List<SensitivityCurve> curves) {
    double range = 0;
    for (SensitivityCurve c : curves) {
      double min = 0;
      double max = 0;
      for (double d : c.drops()) {
        min = Math.min(min, d);
        max = Math.max(max, d);
      }
      range = Math.max(range, max - min);
    }
    return range;
  }

  @Test
  void matchesExhaustiveSearchWithinTheDocumentedGap() {
    Random random = new Random(20261121);
    int instances = 300;
    int exact = 0;
    for (int n = 0; n < instances; n++) {
      int m = 2 + random.nextInt(3);
      List<SensitivityCurve> curves = new ArrayList<>();
      for (int t = 0; t < m; t++) {
        long parameters = 10 + random.nextInt(990);
        curves.add(random.nextBoolean() ? convex("t" + t, parameters, random) : bumpy("t" + t, parameters, random));
      }
      double target = 0.05 + random.nextDouble() * 0.8;
      Allocation a = new TargetAllocation(0.1).allocate(curves, new AllocationSettings(target, 0.01, 0.9));
      double optimum = bruteForce(curves, target);
      String where = "instance " + n + ": " + curves + " target " + target;
      assertTrue(a.overallSparsity() >= target - 1e-12, where);
      assertTrue(a.lowerBound() <= optimum + 1e-12, where + ": lower bound above the optimum");
      assertTrue(a.predictedDrop() >= optimum - 1e-12, where + ": better than the optimum");
      assertTrue(a.predictedDrop() - optimum <= largestRange(curves) + 1e-12, where);
      if (a.predictedDrop() - optimum <= 1e-12) {
        exact++;
      }
    }
    // Measured with this seed: 291 of 300 exact (247 before the exchange step); the rest within
    // 0.009 of the optimum, below their reported bounds.
    assertTrue(exact >= 0.95 * instances, exact + " of " + instances + " exact");
  }

  @Test
  void isExactOnConvexCurvesWhenTheTargetFallsOnAChoice() {
    Random random = new Random(7);
    for (int n = 0; n < 200; n++) {
      List<SensitivityCurve> curves = List.of(convex("a", 100, random), convex("b", 100, random),
          convex("c", 100, random));
      // Equal sizes and T = k / 30: the needed total sparsity 3T is a multiple of 0.1.
      double target = (1 + random.nextInt(26)) / 30.0;
      Allocation a = new TargetAllocation(0.1).allocate(curves, new AllocationSettings(target, 0.01, 0.9));
      double optimum = bruteForce(curves, target);
      assertEquals(optimum, a.predictedDrop(), 1e-12, "instance " + n);
      assertEquals(optimum, a.lowerBound(), 1e-12, "instance " + n);
    }
  }

  @Test
  void reachesTheTargetAndBeatsUniformOnRandomCurves() {
    Random random = new Random(42);
    for (int n = 0; n < 300; n++) {
      int m = 2 + random.nextInt(20);
      List<SensitivityCurve> curves = new ArrayList<>();
      long total = 0;
      long largest = 0;
      boolean allConvex = n % 2 == 0;
      for (int t = 0; t < m; t++) {
        long parameters = 1 + random.nextInt(100_000);
        total += parameters;
        largest = Math.max(largest, parameters);
        curves.add(allConvex ? convex("t" + t, parameters, random) : bumpy("t" + t, parameters, random));
      }
      // Multiples of the step, so that uniform's allocation is among the target policy's choices.
      double target = (1 + random.nextInt(179)) * TargetAllocation.DEFAULT_STEP;
      AllocationSettings settings = new AllocationSettings(target, 0.01, 0.9);
      Allocation a = new TargetAllocation().allocate(curves, settings);
      Allocation uniform = new UniformAllocation().allocate(curves, settings);
      String where = "instance " + n + " target " + target;
      assertTrue(a.overallSparsity() >= target - 1e-12, where);
      if (allConvex) {
        assertTrue(a.overallSparsity() - target <= largest * TargetAllocation.DEFAULT_STEP / total + 1e-12,
            where + ": overshoot " + (a.overallSparsity() - target));
      }
      assertTrue(a.predictedDrop() <= uniform.predictedDrop() + 1e-12,
          where + ": target " + a.predictedDrop() + " > uniform " + uniform.predictedDrop());
      assertTrue(a.lowerBound() <= uniform.predictedDrop() + 1e-12, where);
    }
  }
}
