package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class WandaCriterionTest {

  private static final WandaCriterion WANDA = WandaCriterion.instance();

  /** Statistics of {@code dim} channels from their sums of squares, one sample each. */
  private static InputStatistics squares(long count, double... sumSquares) {
    return new InputStatistics(sumSquares.length, count, new double[sumSquares.length], sumSquares, null);
  }

  /** A PyTorch Linear weight [rows, cols] consumed as Gemm with transB = 1, with its statistics. */
  private static CriterionContext linear(String name, InputStatistics stats) {
    return CriterionContext.builder().optConsumer(name, "Gemm", 1, true).optInputStatistics(name, stats).build();
  }

  private static BitSet bits(int... indices) {
    BitSet set = new BitSet();
    for (int i : indices) {
      set.set(i);
    }
    return set;
  }

  private static BitSet pruned(MaskSet masks, String name) {
    return masks.get(name).orElseThrow().pruned();
  }

  @Test
  void masksEqualThePythonPortBitForBit() {
    PruningReference ref = PruningReference.load();
    List<String> names = ref.names(".*\\.wanda\\..*");
    assertEquals(12, names.size(), names.toString());
    int compared = 0;
    int differing = 0;
    StringBuilder report = new StringBuilder();
    for (String name : names) {
      String[] parts = name.split("\\.wanda\\.");
      PruningReference.Case c = ref.reference(parts[0]);
      PruningReference.Variant v = PruningReference.Variant.parse(parts[1]);
      BitSet expected = ref.pruned(name);
      for (PruningReference.Stored s : c.layouts()) {
        BitSet actual = pruned(WANDA.select(List.of(s.tensor()), v.sparsity(), s.context(v.pattern())), s.tensorName());
        BitSet diff = s.toStored(expected);
        diff.xor(actual);
        differing += diff.cardinality();
        compared++;
        if (!diff.isEmpty()) {
          report.append(name).append(" ").append(s.label()).append(": ").append(diff.cardinality()).append(" positions differ\n");
        }
      }
    }
    System.out.printf("Wanda against data/pruning_reference.py: %d masks compared, %d positions differ%n",
        compared, differing);
    assertEquals(0, differing, report.toString());
    assertEquals(22, compared);
  }

  @Test
  void scoresAreAbsoluteWeightTimesRootMeanSquareOfTheInput() {
    WeightTensor w = WeightTensor.of("w", new long[] {1, 3}, new float[] {-2f, 0.5f, 3f});
    double[] scores = WANDA.scores(w, linear("w", squares(4, 16, 400, 1)));
    assertArrayEquals(new double[] {2 * 2.0, 0.5 * 10.0, 3 * 0.5}, scores, 0.0);
  }

  @Test
  void prunesIntOfColumnsTimesSparsityInEveryRowRankedByScore() {
    // Row 0: scores 1, 2, 3, 4 ... 10 by column; row 1 reversed. 0.57 x 10 = 5.7 -> 5 per row.
    float[] values = new float[20];
    for (int c = 0; c < 10; c++) {
      values[c] = c + 1;
      values[10 + c] = -(10 - c);
    }
    WeightTensor w = WeightTensor.of("w", new long[] {2, 10}, values);
    double[] ones = new double[10];
    java.util.Arrays.fill(ones, 1);
    CriterionContext context = linear("w", squares(1, ones));
    assertEquals(bits(0, 1, 2, 3, 4, 15, 16, 17, 18, 19), pruned(WANDA.select(List.of(w), 0.57, context), "w"));
    // The input's scale reorders a row: channel 9 silent makes its weights the lowest scores.
    double[] quiet = ones.clone();
    quiet[9] = 0;
    assertEquals(bits(0, 1, 9, 17, 18, 19), pruned(WANDA.select(List.of(w), 0.3, linear("w", squares(1, quiet))), "w"));
  }

  @Test
  void truncatesTheFloat64ProductAsPythonsInt() {
    // int(100 * 0.57) == 56 in Python (56.99999999999999), int(100 * 0.7) == 70.
    float[] values = new float[100];
    for (int c = 0; c < 100; c++) {
      values[c] = c + 1;
    }
    WeightTensor w = WeightTensor.of("w", new long[] {1, 100}, values);
    double[] ones = new double[100];
    java.util.Arrays.fill(ones, 1);
    CriterionContext context = linear("w", squares(3, ones));
    assertEquals(56, WANDA.select(List.of(w), 0.57, context).totalPruned());
    assertEquals(70, WANDA.select(List.of(w), 0.7, context).totalPruned());
    assertEquals(100, WANDA.select(List.of(w), 1.0, context).totalPruned());
    assertEquals(0, WANDA.select(List.of(w), 0.0, context).totalPruned());
  }

  @Test
  void prunesTheLowerColumnFirstAmongEqualScores() {
    WeightTensor w = WeightTensor.of("w", new long[] {1, 6}, new float[] {1f, -1f, 1f, 0.5f, -1f, 1f});
    CriterionContext context = linear("w", squares(2, 1, 1, 1, 1, 1, 1));
    assertEquals(bits(0, 1, 3), pruned(WANDA.select(List.of(w), 0.5, context), "w"));
  }

  @Test
  void readsRowsOnTheLastAxisForXTimesW() {
    // Stored [in = 2, out = 3] behind MatMul: output row r is column r of the stored matrix.
    WeightTensor w = WeightTensor.of("w", new long[] {2, 3}, new float[] {1f, 5f, -3f, 2f, -4f, 6f});
    CriterionContext context = CriterionContext.builder().optConsumer("w", "MatMul", 1, false)
        .optInputStatistics("w", squares(1, 1, 1)).build();
    // Rows: (1, 2), (5, -4), (-3, 6): the smaller of each goes, flat 0, 4, 2.
    assertEquals(bits(0, 2, 4), pruned(WANDA.select(List.of(w), 0.5, context), "w"));
  }

  @Test
  void gridEqualsOneSelectionPerSparsity() {
    PruningReference ref = PruningReference.load();
    PruningReference.Stored s = ref.reference("b32x256").layouts().get(1);
    double[] grid = {0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0};
    CriterionContext context = s.context(SparsityPattern.UNSTRUCTURED);
    List<MaskSet> masks = WANDA.selectGrid(List.of(s.tensor()), grid, context);
    for (int j = 0; j < grid.length; j++) {
      assertEquals(WANDA.select(List.of(s.tensor()), grid[j], context), masks.get(j), "sparsity " + grid[j]);
    }
  }

  @Test
  void nmPrunesOnlyAtItsOwnSparsity() {
    PruningReference ref = PruningReference.load();
    PruningReference.Stored s = ref.reference("a16x64").layouts().get(0);
    CriterionContext context = s.context(new SparsityPattern(2, 4));
    assertEquals(0, WANDA.select(List.of(s.tensor()), 0.0, context).totalPruned());
    assertEquals(16 * 32, WANDA.select(List.of(s.tensor()), 0.5, context).totalPruned());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WANDA.select(List.of(s.tensor()), 0.7, context));
    assertEquals("criterion wanda with pattern 2:4 prunes (M - N)/M = 0.5 of every row; sparsity 0.7 was"
        + " asked (only 0, for none, or 0.5)", e.getMessage());
    // 0.75 written in decimal is (4 - 1)/4.
    assertEquals(16 * 48, WANDA.select(List.of(s.tensor()), 0.75, s.context(new SparsityPattern(1, 4))).totalPruned());
  }

  @Test
  void refusesNmPatternsThatDoNotDivideTheInputs() {
    PruningReference.Stored conv = PruningReference.load().reference("conv8x3x3x3").layouts().get(0);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> WANDA.select(List.of(conv.tensor()), 0.5, conv.context(new SparsityPattern(2, 4))));
    assertEquals("sweep.pattern 2:4: tensor conv8x3x3x3.conv has 27 inputs per output row, not a multiple of 4; "
        + "exclude it (model.exclude) or choose another pattern",
        e.getMessage());
  }

  @Test
  void refusesTensorsWithoutStatisticsOrConsumer() {
    WeightTensor w = WeightTensor.of("fc.weight", new long[] {2, 2}, new float[] {1, 2, 3, 4});
    CriterionContext noStats = CriterionContext.builder().optConsumer("fc.weight", "Gemm", 1, true).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> WANDA.select(List.of(w), 0.5, noStats));
    assertEquals("criterion wanda: tensor fc.weight has no calibration statistics in the context", e.getMessage());

    CriterionContext noConsumer = CriterionContext.builder().optInputStatistics("fc.weight", squares(1, 1, 1)).build();
    e = assertThrows(IllegalArgumentException.class, () -> WANDA.select(List.of(w), 0.5, noConsumer));
    assertTrue(e.getMessage().startsWith("criterion wanda: tensor fc.weight has no consumer in the context"), e.getMessage());

    e = assertThrows(IllegalArgumentException.class,
        () -> WANDA.select(List.of(w), 0.5, linear("fc.weight", squares(0, 1, 1))));
    assertEquals("criterion wanda: the calibration statistics of tensor fc.weight hold no samples", e.getMessage());

    e = assertThrows(IllegalArgumentException.class,
        () -> WANDA.select(List.of(w), 0.5, linear("fc.weight", squares(1, 1, 1, 1))));
    assertEquals("criterion wanda: tensor fc.weight has 2 inputs per output row but calibration statistics of 3"
        + " channels", e.getMessage());
  }

  @Test
  void refusesNanWeightsAndSparsitiesOutsideTheUnitInterval() {
    WeightTensor w = WeightTensor.of("w", new long[] {1, 2}, new float[] {1, Float.NaN});
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> WANDA.select(List.of(w), 0.5, linear("w", squares(1, 1, 1))));
    assertEquals("tensor w holds NaN at flat index 1; criterion wanda needs finite weights", e.getMessage());
    WeightTensor ok = WeightTensor.of("w", new long[] {1, 2}, new float[] {1, 2});
    assertThrows(InvalidInputException.class, () -> WANDA.select(List.of(ok), 1.5, linear("w", squares(1, 1, 1))));
  }

  @Test
  void isRegisteredAsWanda() {
    assertSame(WANDA, Criteria.byName("wanda"));
    assertTrue(Criteria.byName("sparsegpt") instanceof SparseGptCriterion);
    SparseGptCriterion damped = (SparseGptCriterion) Criteria.configured("sparsegpt", 0.1);
    assertEquals(0.1, damped.dampening());
    assertSame(WANDA, Criteria.configured("wanda", 0.1));
  }
}
