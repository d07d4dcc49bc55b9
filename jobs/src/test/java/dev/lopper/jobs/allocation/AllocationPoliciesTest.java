package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Hand-made curves whose answers are worked out by hand in the comments. */
class AllocationPoliciesTest {

  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  /** A curve whose drop grows linearly: {@code slope * s}. */
  private static SensitivityCurve linear(String name, long parameters, double slope) {
    double[] drops = new double[GRID.length];
    for (int i = 0; i < GRID.length; i++) {
      drops[i] = slope * GRID[i];
    }
    return new SensitivityCurve(name, parameters, GRID, drops);
  }

  private static AllocationSettings target(double t) {
    return new AllocationSettings(t, 0.01, 0.9);
  }

  @Test
  void targetPutsSparsityOnTheFlatTensor() {
    // Equal sizes, T = 0.4: sA + sB = 0.8. Cost 0.01 sA + 0.5 sB is least at sA = 0.8, sB = 0.
    List<SensitivityCurve> curves = List.of(linear("flat", 1000, 0.01), linear("steep", 1000, 0.5));
    Allocation a = new TargetAllocation().allocate(curves, target(0.4));
    assertEquals(0.8, a.tensors().get(0).sparsity(), 1e-12);
    assertEquals(0.0, a.tensors().get(1).sparsity(), 1e-12);
    assertEquals(0.4, a.overallSparsity(), 1e-12);
    assertEquals(0.008, a.predictedDrop(), 1e-12);
    assertEquals(800, a.prunedParameters());
  }

  @Test
  void targetCountsParametersNotTensors() {
    // A: 100 parameters, flat; B: 900 parameters, linear. T = 0.5 needs 500 pruned: A gives at most
    // 90 (cap 0.9), B the other 410, i.e. 0.4556, rounded up to the next choice 0.46 (414); the 4
    // parameters too many are then given back by A, whose drop that lowers: A 0.86, exactly 500.
    List<SensitivityCurve> curves = List.of(linear("small", 100, 0.001), linear("large", 900, 0.2));
    Allocation a = new TargetAllocation().allocate(curves, target(0.5));
    assertEquals(0.86, a.tensors().get(0).sparsity(), 1e-12);
    assertEquals(0.46, a.tensors().get(1).sparsity(), 1e-12);
    assertEquals(500, a.prunedParameters());
    assertEquals(0.5, a.overallSparsity(), 1e-12);
  }

  @Test
  void targetSkipsAStepInANonConvexCurveWhenItPays() {
    // Tensor "cliff" is free up to 0.5 and then jumps; tensor "ramp" costs 0.1 per unit sparsity.
    // T = 0.3 (equal sizes: sum 0.6): cliff 0.5 + ramp 0.1 costs 0.01; cliff 0.6 costs 0.2.
    double[] cliffDrops = {0, 0, 0, 0, 0, 0.2, 0.3, 0.4, 0.5};
    List<SensitivityCurve> curves = List.of(new SensitivityCurve("cliff", 1000, GRID, cliffDrops),
        linear("ramp", 1000, 0.1));
    Allocation a = new TargetAllocation().allocate(curves, target(0.3));
    assertEquals(0.5, a.tensors().get(0).sparsity(), 1e-12);
    assertEquals(0.1, a.tensors().get(1).sparsity(), 1e-12);
    assertEquals(0.01, a.predictedDrop(), 1e-12);
  }

  @Test
  void targetRefusesATargetTheCapCannotReach() {
    List<SensitivityCurve> curves = List.of(linear("a", 10, 0.1), linear("b", 10, 0.1));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> new TargetAllocation().allocate(curves, new AllocationSettings(0.6, 0.01, 0.5)));
    assertTrue(e.getMessage().contains("allocation.target"), e.getMessage());
    assertTrue(e.getMessage().contains("at most 0.5"), e.getMessage());
  }

  @Test
  void toleranceInterpolatesBetweenGridPoints() {
    // Drops 0 at 0.1, 0.004 at 0.2, 0.02 at 0.3: 0.01 is crossed at 0.2 + 0.006 / 0.016 * 0.1 = 0.2375.
    SensitivityCurve curve = new SensitivityCurve("t", 400, new double[] {0.1, 0.2, 0.3},
        new double[] {0.0, 0.004, 0.02});
    Allocation a = new ToleranceAllocation().allocate(List.of(curve), new AllocationSettings(0.5, 0.01, 0.3));
    assertEquals(0.2375, a.tensors().get(0).sparsity(), 1e-12);
    assertEquals(0.01, a.tensors().get(0).predictedDrop(), 1e-12);
    assertEquals(95, a.tensors().get(0).pruned());
  }

  @Test
  void toleranceInterpolatesFromTheDenseModel() {
    // The first grid point is already above the tolerance: the line from (0, 0) to (0.1, 0.05)
    // crosses 0.01 at 0.02.
    SensitivityCurve curve = new SensitivityCurve("t", 100, new double[] {0.1, 0.2}, new double[] {0.05, 0.1});
    Allocation a = new ToleranceAllocation().allocate(List.of(curve), new AllocationSettings(0.5, 0.01, 0.2));
    assertEquals(0.02, a.tensors().get(0).sparsity(), 1e-12);
  }

  @Test
  void toleranceTakesTheLargestSparsityWithinAndRespectsTheCap() {
    // Noisy: above the tolerance at 0.2, within again at 0.3 and 0.4, above from 0.5.
    double[] drops = {0.001, 0.02, 0.008, 0.009, 0.03, 0.04, 0.05, 0.06, 0.07};
    SensitivityCurve curve = new SensitivityCurve("t", 100, GRID, drops);
    // Between 0.4 (0.009) and 0.5 (0.03): 0.4 + 0.001 / 0.021 * 0.1.
    double expected = 0.4 + 0.001 / 0.021 * 0.1;
    assertEquals(expected, new ToleranceAllocation().allocate(List.of(curve),
        new AllocationSettings(0.5, 0.01, 0.9)).tensors().get(0).sparsity(), 1e-12);
    // Capped at 0.35: the drop there, 0.0085, is within, so the cap itself.
    assertEquals(0.35, new ToleranceAllocation().allocate(List.of(curve),
        new AllocationSettings(0.5, 0.01, 0.35)).tensors().get(0).sparsity(), 1e-12);
  }

  @Test
  void uniformPutsEveryTensorAtTheTargetWithInterpolatedDrops() {
    List<SensitivityCurve> curves = List.of(linear("a", 10, 0.1), linear("b", 30, 0.3));
    Allocation a = new UniformAllocation().allocate(curves, target(0.25));
    assertEquals(0.25, a.tensors().get(0).sparsity());
    assertEquals(0.25, a.tensors().get(1).sparsity());
    assertEquals(0.025, a.tensors().get(0).predictedDrop(), 1e-12);
    assertEquals(0.075, a.tensors().get(1).predictedDrop(), 1e-12);
    assertEquals(0.25, a.overallSparsity(), 1e-12);
    // rint(2.5) = 2 and rint(7.5) = 8: half to even, like Python's round.
    assertEquals(2, a.tensors().get(0).pruned());
    assertEquals(8, a.tensors().get(1).pruned());
  }

  @Test
  void globalMagnitudeTakesGivenFractionsAndMarksUnmeasuredDrops() {
    List<SensitivityCurve> curves = List.of(linear("a", 10, 0.1), linear("b", 30, 0.3));
    AllocationPolicy policy = AllocationPolicies.byName("global-magnitude", () -> Map.of("a", 0.95, "b", 0.15));
    Allocation a = policy.allocate(curves, target(0.35));
    assertEquals("global-magnitude", a.policy());
    assertTrue(Double.isNaN(a.tensors().get(0).predictedDrop()), "0.95 is above the swept 0.9");
    assertEquals(0.045, a.tensors().get(1).predictedDrop(), 1e-12);
    assertEquals((10 * 0.95 + 30 * 0.15) / 40, a.overallSparsity(), 1e-12);
  }

  @Test
  void allocationTableHasTheDocumentedColumns() {
    Allocation a = new UniformAllocation().allocate(List.of(linear("fc.weight", 200, 0.1)), target(0.5));
    Table table = a.toTable();
    assertEquals(List.of("tensor", "parameters", "sparsity", "pruned", "predicted_drop"),
        table.columns().stream().map(Table.Column::name).toList());
    assertEquals(List.of("fc.weight", 200L, 0.5, 100L, 0.05), table.rows().get(0));
  }

  @Test
  void unknownPolicyListsTheKnownOnes() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> AllocationPolicies.byName("greedy", Map::of));
    assertEquals("unknown allocation policy 'greedy'; known policies: target, tolerance, uniform, owl, global-magnitude",
        e.getMessage());
  }

  @Test
  void curveInterpolatesThroughTheDenseModelAndRefusesUnmeasuredSparsities() {
    SensitivityCurve curve = new SensitivityCurve("t", 10, new double[] {0.5, 0.9}, new double[] {0.1, 0.5});
    assertEquals(0.0, curve.dropAt(0), 0);
    assertEquals(0.05, curve.dropAt(0.25), 1e-12);
    assertEquals(0.3, curve.dropAt(0.7), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> curve.dropAt(0.95));
    assertThrows(IllegalArgumentException.class,
        () -> new SensitivityCurve("t", 10, new double[] {0.5, 0.4}, new double[] {0, 0}));
  }
}
