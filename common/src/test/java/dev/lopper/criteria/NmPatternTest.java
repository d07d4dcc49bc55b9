package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** N:M patterns across criteria: magnitude's against the Python port, and the pattern held by every mask. */
class NmPatternTest {

  private static final SparsityPattern[] PATTERNS = {
      new SparsityPattern(2, 4), new SparsityPattern(4, 8), new SparsityPattern(1, 4), new SparsityPattern(3, 4)};

  @Test
  void magnitudeMasksEqualThePythonPortBitForBit() {
    PruningReference ref = PruningReference.load();
    List<String> names = ref.names(".*\\.magnitude\\.nm.*");
    assertEquals(6, names.size(), names.toString());
    int differing = 0;
    for (String name : names) {
      String[] parts = name.split("\\.magnitude\\.");
      PruningReference.Variant v = PruningReference.Variant.parse(parts[1]);
      BitSet expected = ref.pruned(name);
      for (PruningReference.Stored s : ref.reference(parts[0]).layouts()) {
        BitSet actual = MagnitudeCriterion.local().select(List.of(s.tensor()), v.sparsity(), s.context(v.pattern()))
            .get(s.tensorName()).orElseThrow().pruned();
        BitSet diff = s.toStored(expected);
        diff.xor(actual);
        differing += diff.cardinality();
      }
    }
    System.out.printf("magnitude N:M against data/pruning_reference.py: %d masks, %d positions differ%n",
        2 * names.size(), differing);
    assertEquals(0, differing);
  }

  @Test
  void everyMaskHoldsItsPatternInEveryLayout() {
    Random random = new Random(3);
    int rows = 12;
    int cols = 48;
    double[] x = new double[40 * cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = random.nextGaussian() * (i % cols == 5 ? 30 : 1);
    }
    InputStatistics stats = statistics(x, cols);
    float[] rowValues = new float[rows * cols];
    for (int i = 0; i < rowValues.length; i++) {
      // Coarse values, so that many magnitudes tie.
      rowValues[i] = Math.round(random.nextGaussian() * 3) / 4f;
    }
    List<PruningCriterion> criteria =
        List.of(MagnitudeCriterion.local(), WandaCriterion.instance(), new SparseGptCriterion(0.01, 16));
    int checked = 0;
    for (boolean transposed : new boolean[] {false, true}) {
      long[] shape = transposed ? new long[] {cols, rows} : new long[] {rows, cols};
      CriterionContext.Consumer consumer = transposed
          ? new CriterionContext.Consumer("MatMul", 1, false) : new CriterionContext.Consumer("Gemm", 1, true);
      WeightLayout layout = WeightLayout.of("w", shape, consumer);
      float[] stored = new float[rows * cols];
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
          stored[layout.index(r, c)] = rowValues[r * cols + c];
        }
      }
      WeightTensor w = WeightTensor.of("w", shape, stored);
      for (SparsityPattern pattern : PATTERNS) {
        CriterionContext context = CriterionContext.builder().optConsumer("w", consumer)
            .optInputStatistics("w", stats).optPattern(pattern).build();
        for (PruningCriterion criterion : criteria) {
          Mask mask = criterion.select(List.of(w), pattern.sparsity(), context).get("w").orElseThrow();
          for (int r = 0; r < rows; r++) {
            for (int g = 0; g < cols; g += pattern.m()) {
              int pruned = 0;
              for (int c = g; c < g + pattern.m(); c++) {
                pruned += mask.isPruned(layout.index(r, c)) ? 1 : 0;
              }
              assertEquals(pattern.m() - pattern.n(), pruned, criterion.name() + " " + pattern + " row " + r
                  + " group " + g + (transposed ? " [in, out]" : " [out, in]"));
            }
          }
          checked++;
        }
      }
    }
    assertEquals(2 * PATTERNS.length * criteria.size(), checked);
  }

  @Test
  void magnitudePrunesTheSmallestOfEachGroupLowerInputFirst() {
    WeightTensor w = WeightTensor.of("w", new long[] {2, 8},
        new float[] {1, -3, 2, 0.5f, 4, 4, -4, 4, /* row 1 */ 0, 0, 0, 0, 7, -1, 1, 9});
    CriterionContext context = CriterionContext.builder().optConsumer("w", "Gemm", 1, true)
        .optPattern(new SparsityPattern(2, 4)).build();
    BitSet pruned = MagnitudeCriterion.local().select(List.of(w), 0.5, context).get("w").orElseThrow().pruned();
    BitSet expected = new BitSet();
    for (int i : new int[] {0, 3, 4, 5, 8, 9, 13, 14}) {
      expected.set(i);
    }
    assertEquals(expected, pruned);
  }

  @Test
  void globalMagnitudeRefusesPatterns() {
    WeightTensor w = WeightTensor.of("w", new long[] {1, 4}, new float[] {1, 2, 3, 4});
    CriterionContext context = CriterionContext.builder().optConsumer("w", "Gemm", 1, true)
        .optPattern(new SparsityPattern(2, 4)).build();
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MagnitudeCriterion.global().select(List.of(w), 0.5, context));
    assertEquals("criterion global-magnitude prunes all tensors jointly and cannot hold the N:M pattern 2:4,"
        + " which fixes the sparsity of every row; use criterion magnitude", e.getMessage());
  }

  @Test
  void magnitudeNeedsTheConsumerAndAFittingPatternAndSparsity() {
    WeightTensor conv = WeightTensor.of("conv", new long[] {2, 3, 1, 3}, new float[18]);
    SparsityPattern p = new SparsityPattern(2, 4);
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () ->
        MagnitudeCriterion.local().select(List.of(conv), 0.5, CriterionContext.builder().optPattern(p).build()));
    assertTrue(missing.getMessage().startsWith("criterion magnitude: tensor conv has no consumer"), missing.getMessage());
    CriterionContext context = CriterionContext.builder().optConsumer("conv", "Conv", 1, false).optPattern(p).build();
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MagnitudeCriterion.local().select(List.of(conv), 0.5, context));
    assertEquals("sweep.pattern 2:4: tensor conv has 9 inputs per output row, not a multiple of 4; exclude it "
        + "(model.exclude) or choose another pattern", e.getMessage());
    WeightTensor w = WeightTensor.of("w", new long[] {1, 4}, new float[] {1, 2, 3, 4});
    CriterionContext linear = CriterionContext.builder().optConsumer("w", "Gemm", 1, true).optPattern(p).build();
    assertThrows(IllegalArgumentException.class, () -> MagnitudeCriterion.local().select(List.of(w), 0.25, linear));
    List<MaskSet> grid = MagnitudeCriterion.local().selectGrid(List.of(w), new double[] {0, 0.5}, linear);
    assertEquals(0, grid.get(0).totalPruned());
    assertEquals(2, grid.get(1).totalPruned());
  }

  @Test
  void stableOrderSortsByScoreThenColumn() {
    Random random = new Random(11);
    for (int n : new int[] {1, 2, 3, 7, 64, 100, 257}) {
      double[] scores = new double[n + 5];
      for (int i = 0; i < scores.length; i++) {
        scores[i] = random.nextInt(6); // many ties
      }
      int[] order = new int[n];
      RowSelection.stableOrder(scores, 5, n, order, new int[n]);
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        expected.add(i);
      }
      expected.sort(Comparator.<Integer>comparingDouble(i -> scores[5 + i]).thenComparingInt(i -> i));
      assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), order, "n = " + n);
    }
  }

  static InputStatistics statistics(double[] x, int cols) {
    int samples = x.length / cols;
    double[] sums = new double[cols];
    double[] squares = new double[cols];
    double[] gram = new double[cols * cols];
    for (int s = 0; s < samples; s++) {
      for (int i = 0; i < cols; i++) {
        double xi = x[s * cols + i];
        sums[i] += xi;
        squares[i] += xi * xi;
        for (int j = 0; j < cols; j++) {
          gram[i * cols + j] += xi * x[s * cols + j];
        }
      }
    }
    return new InputStatistics(cols, samples, sums, squares, gram);
  }
}
