package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class MagnitudeCriterionTest {

  private static final MagnitudeCriterion LOCAL = MagnitudeCriterion.local();
  private static final MagnitudeCriterion GLOBAL = MagnitudeCriterion.global();
  private static final CriterionContext NONE = CriterionContext.empty();

  private static WeightTensor tensor(String name, float... values) {
    return WeightTensor.of(name, new long[] {values.length}, values);
  }

  private static BitSet bits(int... indices) {
    BitSet set = new BitSet();
    for (int i : indices) {
      set.set(i);
    }
    return set;
  }

  private static BitSet prunedOf(MaskSet masks, String name) {
    return masks.get(name).orElseThrow().pruned();
  }

  /** A tensor of n distinct magnitudes, so that the number pruned is all that varies. */
  private static WeightTensor distinct(int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (i % 2 == 0 ? 1 : -1) * (n - i);
    }
    return tensor("w", values);
  }

  @Test
  void prunesSmallestMagnitudeFirst() {
    WeightTensor w = tensor("w", 0.5f, -0.1f, 2.0f, -3.0f, 0.05f, 1.0f);
    // k = round(0.5 * 6) = 3: |0.05| (4), |-0.1| (1), |0.5| (0).
    assertEquals(bits(0, 1, 4), prunedOf(LOCAL.select(List.of(w), 0.5, NONE), "w"));
    // k = round(0.34 * 6) = round(2.04) = 2.
    assertEquals(bits(1, 4), prunedOf(LOCAL.select(List.of(w), 0.34, NONE), "w"));
  }

  @Test
  void roundsHalfToEvenLikePython() {
    // Python 3: round(0.5*9) == 4, round(0.5*5) == 2, round(0.5*7) == 4, round(0.1*25) == 2
    // (0.1*25 is exactly 2.5 in float64); torch 1.13's l1_unstructured pruned 4, 2, 4 and 2.
    assertEquals(4, LOCAL.select(List.of(distinct(9)), 0.5, NONE).totalPruned());
    assertEquals(2, LOCAL.select(List.of(distinct(5)), 0.5, NONE).totalPruned());
    assertEquals(4, LOCAL.select(List.of(distinct(7)), 0.5, NONE).totalPruned());
    assertEquals(2, LOCAL.select(List.of(distinct(25)), 0.1, NONE).totalPruned());
    // round(0.15*10) == 2 and round(0.45*10) == 4 (1.5 and 4.5 in float64).
    assertEquals(2, LOCAL.select(List.of(distinct(10)), 0.15, NONE).totalPruned());
    assertEquals(4, LOCAL.select(List.of(distinct(10)), 0.45, NONE).totalPruned());
  }

  @Test
  void breaksTiesByLowerIndex() {
    WeightTensor w = tensor("w", 1f, -1f, 1f, 0.5f, -1f, 1f);
    // k = 3: 0.5 (3), then the first two of the five |1|: indices 0 and 1.
    assertEquals(bits(0, 1, 3), prunedOf(LOCAL.select(List.of(w), 0.5, NONE), "w"));
    // Positive and negative zero have the same magnitude.
    WeightTensor zeros = tensor("z", 2f, -0.0f, 0.0f, -0.0f, 3f);
    assertEquals(bits(1, 2), prunedOf(LOCAL.select(List.of(zeros), 0.4, NONE), "z"));
  }

  @Test
  void globalPrunesJointlyAcrossTensors() {
    WeightTensor a = tensor("a", 0.1f, 5f, 0.2f);
    WeightTensor b = tensor("b", 3f, 0.05f, 4f, 0.3f, 0.01f, 0.02f);
    // n = 9, k = round(4.5) = 4: 0.01 (b4), 0.02 (b5), 0.05 (b1), 0.1 (a0).
    MaskSet global = GLOBAL.select(List.of(a, b), 0.5, NONE);
    assertEquals(List.of("a", "b"), List.copyOf(global.names()));
    assertEquals(bits(0), prunedOf(global, "a"));
    assertEquals(bits(1, 4, 5), prunedOf(global, "b"));
    // Locally: a prunes round(1.5) = 2, b prunes round(3.0) = 3.
    MaskSet local = LOCAL.select(List.of(a, b), 0.5, NONE);
    assertEquals(bits(0, 2), prunedOf(local, "a"));
    assertEquals(bits(1, 4, 5), prunedOf(local, "b"));
  }

  @Test
  void globalBreaksTiesByIndexInTheGivenOrder() {
    WeightTensor a = tensor("a", 1f, 2f);
    WeightTensor b = tensor("b", 1f, 0f);
    // k = 2: 0 (b1), then |1| at a0 comes before b0 in the concatenation a, b.
    MaskSet ab = GLOBAL.select(List.of(a, b), 0.5, NONE);
    assertEquals(bits(0), prunedOf(ab, "a"));
    assertEquals(bits(1), prunedOf(ab, "b"));
    // In the order b, a the tie at b0 comes first.
    MaskSet ba = GLOBAL.select(List.of(b, a), 0.5, NONE);
    assertEquals(List.of("b", "a"), List.copyOf(ba.names()));
    assertEquals(bits(), prunedOf(ba, "a"));
    assertEquals(bits(0, 1), prunedOf(ba, "b"));
  }

  @Test
  void sparsityZeroPrunesNothingAndOnePrunesEverything() {
    WeightTensor a = tensor("a", 0f, 1f, -2f, 0f);
    WeightTensor b = WeightTensor.of("b", new long[] {2, 3}, new float[] {1, 1, 1, 1, 1, 1});
    WeightTensor empty = WeightTensor.of("e", new long[] {0, 4}, new float[0]);
    for (MagnitudeCriterion criterion : List.of(LOCAL, GLOBAL)) {
      MaskSet none = criterion.select(List.of(a, b, empty), 0.0, NONE);
      assertEquals(3, none.size());
      assertEquals(0, none.totalPruned());
      assertEquals(10, none.totalParameters());
      MaskSet all = criterion.select(List.of(a, b, empty), 1.0, NONE);
      assertEquals(bits(0, 1, 2, 3), prunedOf(all, "a"));
      assertEquals(bits(0, 1, 2, 3, 4, 5), prunedOf(all, "b"));
      assertEquals(0, all.get("e").orElseThrow().size());
    }
  }

  @Test
  void keepsTheTensorsShapeInTheMask() {
    WeightTensor w = WeightTensor.of("conv", new long[] {2, 1, 2, 2},
        new float[] {8, 7, 6, 5, 4, 3, 2, 1});
    Mask mask = LOCAL.select(List.of(w), 0.25, NONE).get("conv").orElseThrow();
    assertEquals(List.of(2L, 1L, 2L, 2L), java.util.Arrays.stream(mask.shape()).boxed().toList());
    assertEquals(bits(6, 7), mask.pruned());
  }

  @Test
  void refusesNaNAndInfiniteWeights() {
    WeightTensor nan = tensor("fc1.weight", 1f, 2f, Float.NaN, 3f);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> LOCAL.select(List.of(nan), 0.5, NONE));
    assertTrue(e.getMessage().contains("fc1.weight") && e.getMessage().contains("NaN")
        && e.getMessage().contains("flat index 2"), e.getMessage());
    WeightTensor inf = tensor("fc2.weight", 1f, Float.NEGATIVE_INFINITY);
    e = assertThrows(InvalidInputException.class,
        () -> GLOBAL.select(List.of(tensor("ok", 1f), inf), 0.0, NONE));
    assertTrue(e.getMessage().contains("fc2.weight") && e.getMessage().contains("flat index 1"),
        e.getMessage());
  }

  @Test
  void refusesSparsityOutsideUnitInterval() {
    List<WeightTensor> w = List.of(tensor("w", 1f, 2f));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> LOCAL.select(w, 1.2, NONE));
    assertEquals("sparsity 1.2 for criterion magnitude is outside [0, 1]", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> GLOBAL.select(w, Double.NaN, NONE));
    assertEquals("sparsity NaN for criterion global-magnitude is outside [0, 1]", e.getMessage());
    assertThrows(InvalidInputException.class, () -> LOCAL.select(w, -0.1, NONE));
    assertThrows(InvalidInputException.class,
        () -> LOCAL.selectGrid(w, new double[] {0.1, 1.5}, NONE));
  }

  @Test
  void refusesTheSameTensorTwice() {
    WeightTensor w = tensor("w", 1f, 2f);
    assertThrows(IllegalArgumentException.class, () -> GLOBAL.select(List.of(w, w), 0.5, NONE));
  }

  @Test
  void matchesFullSortOnRandomTensorsWithManyTies() {
    Random random = new Random(20240611);
    for (int round = 0; round < 300; round++) {
      int count = 1 + random.nextInt(4);
      List<WeightTensor> tensors = new ArrayList<>();
      for (int t = 0; t < count; t++) {
        tensors.add(randomTensor("t" + t, random.nextInt(round < 20 ? 20 : 3000), random));
      }
      double sparsity = random.nextInt(5) == 0 ? random.nextInt(11) / 10.0 : random.nextDouble();
      MaskSet local = LOCAL.select(tensors, sparsity, NONE);
      for (WeightTensor tensor : tensors) {
        assertEquals(slowSelect(List.of(tensor), sparsity).get(0), prunedOf(local, tensor.name()),
            () -> "round, tensor " + tensor + ", sparsity " + sparsity);
      }
      MaskSet global = GLOBAL.select(tensors, sparsity, NONE);
      List<BitSet> expected = slowSelect(tensors, sparsity);
      for (int t = 0; t < count; t++) {
        assertEquals(expected.get(t), prunedOf(global, tensors.get(t).name()),
            "global, sparsity " + sparsity);
      }
    }
  }

  @Test
  void gridGivesTheSameMasksAsSelect() {
    Random random = new Random(7);
    double[] grid = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0};
    for (int round = 0; round < 20; round++) {
      List<WeightTensor> tensors = List.of(randomTensor("a", random.nextInt(5000), random),
          randomTensor("b", random.nextInt(5000), random));
      for (MagnitudeCriterion criterion : List.of(LOCAL, GLOBAL)) {
        List<MaskSet> masks = criterion.selectGrid(tensors, grid, NONE);
        assertEquals(grid.length, masks.size());
        for (int j = 0; j < grid.length; j++) {
          assertEquals(criterion.select(tensors, grid[j], NONE), masks.get(j));
          List<BitSet> expected = criterion.isGlobal() ? slowSelect(tensors, grid[j])
              : List.of(slowSelect(List.of(tensors.get(0)), grid[j]).get(0),
                  slowSelect(List.of(tensors.get(1)), grid[j]).get(0));
          assertEquals(expected.get(1), prunedOf(masks.get(j), "b"));
        }
      }
    }
  }

  /**
   * Values with many ties: a few repeated magnitudes, both zeros, subnormals, and floats whose
   * bits differ only in the low 16 bits (the radix selection's second level).
   */
  private static WeightTensor randomTensor(String name, int n, Random random) {
    float[] values = new float[n];
    float[] pool = {0f, -0f, 0.5f, -0.5f, 1f, 1e-40f, -1e-40f, 0.25f};
    int baseBits = Float.floatToRawIntBits(0.3f) & 0xffff0000;
    int kind = random.nextInt(3);
    for (int i = 0; i < n; i++) {
      float v = switch (kind == 2 ? random.nextInt(3) : kind) {
        case 0 -> pool[random.nextInt(pool.length)];
        case 1 -> Float.intBitsToFloat(baseBits | random.nextInt(64));
        default -> (float) random.nextGaussian();
      };
      values[i] = random.nextBoolean() ? v : -v;
    }
    return tensor(name, values);
  }

  /** The pruned sets by a full sort of (|w|, index in the concatenation) and Python's round. */
  private static List<BitSet> slowSelect(List<WeightTensor> tensors, double sparsity) {
    List<float[]> values = tensors.stream().map(WeightTensor::toArray).toList();
    int n = values.stream().mapToInt(v -> v.length).sum();
    float[] all = new float[n];
    int[] tensorOf = new int[n];
    int[] indexIn = new int[n];
    int at = 0;
    for (int t = 0; t < values.size(); t++) {
      for (int i = 0; i < values.get(t).length; i++) {
        all[at] = Math.abs(values.get(t)[i]);
        tensorOf[at] = t;
        indexIn[at++] = i;
      }
    }
    int k = new BigDecimal(sparsity * n).setScale(0, RoundingMode.HALF_EVEN).intValueExact();
    List<Integer> order = IntStream.range(0, n).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> all[i]).thenComparingInt(i -> i))
        .toList();
    List<BitSet> out = new ArrayList<>();
    for (int t = 0; t < values.size(); t++) {
      out.add(new BitSet());
    }
    for (int r = 0; r < k; r++) {
      int i = order.get(r);
      out.get(tensorOf[i]).set(indexIn[i]);
    }
    return out;
  }
}
