package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code allocation.min-speedup} without a target on curves written out here, the greedy worked by
 * hand: loss per unit of saved time, smallest first, until the predicted speed-up is reached.
 */
class SpeedupAllocationTest {

  private static final double[] S = {0.25, 0.5, 0.75};
  // drops per point; savings of the dense latency per point
  private static final List<SensitivityCurve> CURVES = List.of(
      new SensitivityCurve("cheap", 100, S, new double[] {0.01, 0.03, 0.10}),
      new SensitivityCurve("costly", 100, S, new double[] {0.04, 0.10, 0.18}),
      new SensitivityCurve("slow", 100, S, new double[] {0.0, 0.0, 0.0}),
      new SensitivityCurve("unmeasured", 100, S, new double[] {0.0, 0.0, 0.0}));
  private static final Map<String, LatencyCurve> LATENCY = Map.of(
      "cheap", new LatencyCurve("cheap", S, new double[] {0.10, 0.20, 0.30}),
      "costly", new LatencyCurve("costly", S, new double[] {0.10, 0.20, 0.30}),
      // slower at 1/4 and 1/2 of its channels (a layout the runtime does not like), faster at 3/4
      "slow", new LatencyCurve("slow", S, new double[] {-0.02, -0.01, 0.01}));

  private static Map<String, Double> allocate(double minSpeedup) {
    return SpeedupAllocation.allocate(CURVES, LATENCY, minSpeedup, 0.9).sparsities();
  }

  @Test
  void removesTheLeastLossPerSavedTimeFirstAndStopsAtTheSpeedup() {
    // Step 1: slow 0 -> 3/4 (drop 0 for 0.01 saved, ratio 0; its slower points are jumped over): 1/0.99.
    assertEquals(Map.of("cheap", 0.0, "costly", 0.0, "slow", 0.75, "unmeasured", 0.0), allocate(1.005));
    // Step 2: cheap 0 -> 1/4 (0.01 / 0.10 = 0.1, against 0.15 to 1/2, 0.4 for costly): 1/0.89 = 1.124.
    assertEquals(Map.of("cheap", 0.25, "costly", 0.0, "slow", 0.75, "unmeasured", 0.0), allocate(1.12));
    // Step 3: cheap 1/4 -> 1/2 (0.02 / 0.10 = 0.2 < costly's 0.4): 1/0.79 = 1.266.
    assertEquals(Map.of("cheap", 0.5, "costly", 0.0, "slow", 0.75, "unmeasured", 0.0), allocate(1.25));
    // Step 4: costly 0 -> 1/4 (0.4 < cheap's 0.7 to 3/4): 1/0.69 = 1.449, not enough for 1.5;
    // step 5: costly 1/4 -> 1/2 (0.06 / 0.10 = 0.6 < 0.7): 1/0.59 = 1.695.
    assertEquals(Map.of("cheap", 0.5, "costly", 0.5, "slow", 0.75, "unmeasured", 0.0), allocate(1.5));
    assertEquals(Map.of("cheap", 0.25, "costly", 0.0, "slow", 0.75, "unmeasured", 0.0), allocate(1.01 + 0.1));
    Allocation a = SpeedupAllocation.allocate(CURVES, LATENCY, 1.5, 0.9);
    assertEquals(SpeedupAllocation.NAME, a.policy());
    assertEquals(0.03 + 0.10 + 0.0, a.predictedDrop(), 1e-12);
    assertTrue(LatencyConstrainedAllocation.predictedSpeedup(a.sparsities(), LATENCY) >= 1.5);
  }

  @Test
  void refusesASpeedupNoMoveReachesWithTheLargestPredicted() {
    // Everything at 3/4 saves 0.30 + 0.30 + 0.01: 1/0.39 = 2.564x.
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> allocate(3.0));
    assertTrue(e.getMessage().startsWith("allocation.min-speedup: a predicted speed-up of 3.0 cannot be reached "
        + "without a cost target") && e.getMessage().contains("predicts 2.564x"), e.getMessage());
    // Capped at 1/2: 0.20 + 0.20 (slow's only saving point is beyond the cap): 1/0.6 = 1.667x.
    InvalidInputException capped = assertThrows(InvalidInputException.class,
        () -> SpeedupAllocation.allocate(CURVES, LATENCY, 2.0, 0.5));
    assertTrue(capped.getMessage().contains("predicts 1.667x"), capped.getMessage());
  }
}
