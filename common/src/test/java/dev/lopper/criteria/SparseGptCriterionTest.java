package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.model.WeightTensor;
import java.util.BitSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class SparseGptCriterionTest {

  private static final Pattern VARIANT = Pattern.compile("(.+)\\.sparsegpt\\.(.+)\\.b(\\d+)\\.pruned");

  /** One reference variant run in one layout. */
  private record Run(PruningReference.Stored stored, PruningReference.Variant variant, int blockSize,
      ReconstructingCriterion.PrunedWeights pruned) {}

  private static List<String> variants() {
    return PruningReference.load().names(".*\\.sparsegpt\\..*\\.pruned");
  }

  private static Run run(String name, PruningReference.Stored stored) {
    Matcher m = VARIANT.matcher(name);
    assertTrue(m.matches(), name);
    PruningReference.Variant v = PruningReference.Variant.parse(m.group(2));
    int blockSize = Integer.parseInt(m.group(3));
    SparseGptCriterion criterion = new SparseGptCriterion(0.01, blockSize);
    ReconstructingCriterion.PrunedWeights pruned = criterion.pruneGrid(List.of(stored.tensor()),
        new double[] {v.sparsity()}, stored.context(v.pattern())).get(0);
    return new Run(stored, v, blockSize, pruned);
  }

  @Test
  void masksAndWeightsEqualThePythonPort() {
    PruningReference ref = PruningReference.load();
    List<String> names = variants();
    assertEquals(10, names.size(), names.toString());
    int differing = 0;
    int masks = 0;
    double worst = 0;
    double worstFloat64 = 0;
    for (String name : names) {
      Matcher m = VARIANT.matcher(name);
      assertTrue(m.matches());
      PruningReference.Case c = ref.reference(m.group(1));
      BitSet expected = ref.pruned(name);
      double[] expectedWeights = ref.f64(name.replace(".pruned", ".weight"));
      double scale = maxAbs(expectedWeights);
      for (PruningReference.Stored s : c.layouts()) {
        Run r = run(name, s);
        BitSet diff = s.toStored(expected);
        diff.xor(r.pruned().masks().get(s.tensorName()).orElseThrow().pruned());
        differing += diff.cardinality();
        masks++;
        double[] actual = s.toRows(r.pruned().weights().get(s.tensorName()));
        double deviation = maxAbsDiff(actual, expectedWeights) / scale;
        worst = Math.max(worst, deviation);
        assertTrue(deviation <= 1e-4, name + " " + s.label() + ": weights deviate by " + deviation);
      }
      // The float64 solver itself, before the cast to float32.
      float[] w = c.weights();
      double[] rows = new double[w.length];
      for (int i = 0; i < w.length; i++) {
        rows[i] = w[i];
      }
      PruningReference.Variant v = PruningReference.Variant.parse(m.group(2));
      SparseGptSolver.Prepared p = SparseGptSolver.prepare(name, c.statistics().gram(), c.cols(), 0.01);
      SparseGptSolver.Result result = SparseGptSolver.prune(rows, c.rows(), p, v.sparsity(), v.pattern(),
          Integer.parseInt(m.group(3)));
      assertEquals(expected, result.pruned(), name);
      worstFloat64 = Math.max(worstFloat64, maxAbsDiff(result.weights(), expectedWeights) / scale);
    }
    System.out.printf("SparseGPT against data/pruning_reference.py: %d masks, %d positions differ; weights"
        + " max |diff| / max |w|: float32 output %.2e, float64 solver %.2e%n", masks, differing, worst, worstFloat64);
    assertEquals(0, differing);
    assertTrue(worstFloat64 <= 1e-9, "float64 solver deviates by " + worstFloat64);
  }

  @Test
  void reconstructionReducesTheOutputErrorOfMaskingAlone() {
    PruningReference ref = PruningReference.load();
    for (String name : variants()) {
      Matcher m = VARIANT.matcher(name);
      assertTrue(m.matches());
      PruningReference.Case c = ref.reference(m.group(1));
      for (PruningReference.Stored s : c.layouts()) {
        Run r = run(name, s);
        WeightTensor dense = s.tensor();
        Mask mask = r.pruned().masks().get(s.tensorName()).orElseThrow();
        double[] w = s.toRows(dense);
        double masked = outputError(c, w, s.toRows(mask.apply(dense)));
        double rebuilt = outputError(c, w, s.toRows(r.pruned().weights().get(s.tensorName())));
        assertTrue(rebuilt < masked, name + " " + s.label() + ": ‖(W − Ŵ)Xᵀ‖ " + rebuilt + " >= masked " + masked);
        // Pruned positions hold zeros.
        float[] values = r.pruned().weights().get(s.tensorName()).toArray();
        for (int i = mask.pruned().nextSetBit(0); i >= 0; i = mask.pruned().nextSetBit(i + 1)) {
          assertEquals(0f, values[i], name);
        }
      }
    }
  }

  @Test
  void deadInputsEndAsZeroWeights() {
    PruningReference.Case c = PruningReference.load().reference("b32x256");
    PruningReference.Stored s = c.layouts().get(1);
    WeightTensor out = new SparseGptCriterion().pruneGrid(List.of(s.tensor()), new double[] {0.5},
        s.context(SparsityPattern.UNSTRUCTURED)).get(0).weights().get(s.tensorName());
    double[] rows = s.toRows(out);
    for (int r = 0; r < c.rows(); r++) {
      assertEquals(0.0, rows[r * c.cols() + 90], "row " + r); // channel 90 never fires
    }
  }

  @Test
  void sparsityZeroKeepsTheDenseWeightsAndOnePrunesEverything() {
    PruningReference.Stored s = PruningReference.load().reference("a16x64").layouts().get(0);
    WeightTensor dense = s.tensor();
    List<ReconstructingCriterion.PrunedWeights> out = new SparseGptCriterion().pruneGrid(List.of(dense),
        new double[] {0.0, 1.0}, s.context(SparsityPattern.UNSTRUCTURED));
    assertEquals(0, out.get(0).masks().totalPruned());
    assertSame(dense, out.get(0).weights().get(s.tensorName()));
    assertEquals(16 * 64, out.get(1).masks().totalPruned());
    assertArrayEquals(new float[16 * 64], out.get(1).weights().get(s.tensorName()).toArray(), 0f);
  }

  @Test
  void gridEqualsSeparateCallsAndRunsAreBitwiseReproducible() {
    PruningReference.Stored s = PruningReference.load().reference("b32x256").layouts().get(1);
    SparseGptCriterion criterion = new SparseGptCriterion();
    double[] grid = {0.3, 0.5, 0.8};
    CriterionContext context = s.context(SparsityPattern.UNSTRUCTURED);
    List<ReconstructingCriterion.PrunedWeights> together = criterion.pruneGrid(List.of(s.tensor()), grid, context);
    for (int j = 0; j < grid.length; j++) {
      ReconstructingCriterion.PrunedWeights alone =
          criterion.pruneGrid(List.of(s.tensor()), new double[] {grid[j]}, context).get(0);
      assertEquals(alone.masks(), together.get(j).masks());
      assertArrayEquals(alone.weights().get(s.tensorName()).toArray(),
          together.get(j).weights().get(s.tensorName()).toArray(), 0f);
    }
    assertEquals(criterion.select(List.of(s.tensor()), 0.5, context), together.get(1).masks());
  }

  @Test
  void concurrentCallsGiveTheSequentialResults() throws Exception {
    // Spark runs several tasks in one executor JVM, all calling the one OpenBLAS.
    PruningReference ref = PruningReference.load();
    List<PruningReference.Stored> stored = List.of(ref.reference("b32x256").layouts().get(0),
        ref.reference("b32x256").layouts().get(1), ref.reference("a16x64").layouts().get(1),
        ref.reference("conv8x3x3x3").layouts().get(0));
    SparseGptCriterion criterion = new SparseGptCriterion(0.01, 32);
    double[] grid = {0.4, 0.6};
    List<float[]> sequential = new java.util.ArrayList<>();
    for (PruningReference.Stored s : stored) {
      sequential.add(criterion.pruneGrid(List.of(s.tensor()), grid, s.context(SparsityPattern.UNSTRUCTURED))
          .get(1).weights().get(s.tensorName()).toArray());
    }
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      for (int round = 0; round < 5; round++) {
        List<java.util.concurrent.Future<float[]>> futures = new java.util.ArrayList<>();
        for (PruningReference.Stored s : stored) {
          futures.add(pool.submit(() -> criterion.pruneGrid(List.of(s.tensor()), grid,
              s.context(SparsityPattern.UNSTRUCTURED)).get(1).weights().get(s.tensorName()).toArray()));
        }
        for (int i = 0; i < stored.size(); i++) {
          assertArrayEquals(sequential.get(i), futures.get(i).get(), 0f, stored.get(i).tensorName());
        }
      }
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void refusesMatricesThatAreNotPositiveDefinite() {
    WeightTensor w = WeightTensor.of("fc.weight", new long[] {1, 2}, new float[] {1, 2});
    // Eigenvalues 3 and -1; no dampening.
    InputStatistics stats = new InputStatistics(2, 4, new double[2], new double[] {1, 1}, new double[] {1, 2, 2, 1});
    CriterionContext context = CriterionContext.builder().optConsumer("fc.weight", "Gemm", 1, true)
        .optInputStatistics("fc.weight", stats).build();
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> new SparseGptCriterion(0.0, 128).select(List.of(w), 0.5, context));
    assertEquals("sparsegpt: the dampened Gram matrix of tensor fc.weight is not positive definite (leading"
        + " minor 2, dampening 0.0 added to the diagonal); raise the dampening (calibration.dampening) or"
        + " calibrate on more samples", e.getMessage());
  }

  @Test
  void refusesMissingGramPatternsAcrossBlocksAndBadSettings() {
    WeightTensor w = WeightTensor.of("fc.weight", new long[] {1, 8}, new float[8]);
    CriterionContext noGram = CriterionContext.builder().optConsumer("fc.weight", "Gemm", 1, true)
        .optInputStatistics("fc.weight", new InputStatistics(8, 3, new double[8], new double[8], null)).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new SparseGptCriterion().select(List.of(w), 0.5, noGram));
    assertEquals("criterion sparsegpt: the calibration statistics of tensor fc.weight have no Gram matrix",
        e.getMessage());
    CriterionContext nm = noGram.toBuilder().optPattern(new SparsityPattern(2, 4))
        .optInputStatistics("fc.weight", InputStatistics.empty(8, true)).build();
    InvalidInputException blocks = assertThrows(InvalidInputException.class,
        () -> new SparseGptCriterion(0.01, 6).select(List.of(w), 0.5, nm));
    assertEquals("criterion sparsegpt: block size 6 is not a multiple of M in pattern 2:4, so N:M groups would"
        + " straddle blocks", blocks.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new SparseGptCriterion().select(List.of(w), 0.5, nm));
    assertEquals("criterion sparsegpt: the calibration statistics of tensor fc.weight hold no samples", e.getMessage());
    assertThrows(InvalidInputException.class, () -> new SparseGptCriterion(-0.1, 128));
    assertThrows(InvalidInputException.class, () -> new SparseGptCriterion(0.01, 0));
  }

  @Test
  void selectsTheKthSmallestAsASortWould() {
    java.util.Random random = new java.util.Random(5);
    for (int n : new int[] {1, 2, 3, 10, 1000, 4097}) {
      for (int bound : new int[] {2, 50, 1 << 30}) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
          a[i] = random.nextInt(bound) / 7.0; // many ties for small bounds
        }
        double[] sorted = a.clone();
        java.util.Arrays.sort(sorted);
        for (int k : new int[] {0, n / 3, n / 2, n - 1}) {
          assertEquals(sorted[k], SparseGptSolver.kthSmallest(a.clone(), k), "n " + n + " k " + k);
        }
      }
    }
  }

  /** ‖(W − Ŵ)Xᵀ‖ over the case's activations. */
  private static double outputError(PruningReference.Case c, double[] w, double[] pruned) {
    double sum = 0;
    for (int s = 0; s < c.samples(); s++) {
      for (int r = 0; r < c.rows(); r++) {
        double y = 0;
        for (int k = 0; k < c.cols(); k++) {
          y += (w[r * c.cols() + k] - pruned[r * c.cols() + k]) * c.x()[s * c.cols() + k];
        }
        sum += y * y;
      }
    }
    return Math.sqrt(sum);
  }

  private static double maxAbs(double[] a) {
    double m = 0;
    for (double v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static double maxAbsDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }
}
