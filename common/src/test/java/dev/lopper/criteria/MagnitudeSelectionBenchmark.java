package dev.lopper.criteria;

import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Random;

/**
 * Times {@link MagnitudeCriterion} on one large random tensor; not a test (run by hand):
 * {@code java -cp <test classpath> dev.lopper.criteria.MagnitudeSelectionBenchmark 10000000}.
 */
public final class MagnitudeSelectionBenchmark {

  private MagnitudeSelectionBenchmark() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
    int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 7;
    Random random = new Random(1);
    FloatBuffer data = WeightTensor.allocate(n);
    for (int i = 0; i < n; i++) {
      data.put(i, (float) random.nextGaussian());
    }
    WeightTensor w = new WeightTensor("w", new long[] {n}, data);
    List<WeightTensor> tensors = List.of(w);
    double[] grid = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

    for (int r = 0; r < repeats; r++) {
      long t0 = System.nanoTime();
      MaskSet half = MagnitudeCriterion.local().select(tensors, 0.5, CriterionContext.empty());
      long t1 = System.nanoTime();
      List<MaskSet> masks = MagnitudeCriterion.local().selectGrid(tensors, grid, CriterionContext.empty());
      long t2 = System.nanoTime();
      for (double s : grid) {
        MagnitudeCriterion.local().select(tensors, s, CriterionContext.empty());
      }
      long t3 = System.nanoTime();
      long t4 = System.nanoTime();
      if (n <= 20_000_000) { // for comparison: a full sort of a copy
        float[] copy = w.toArray();
        t4 = System.nanoTime();
        java.util.Arrays.sort(copy);
      }
      long t5 = System.nanoTime();
      System.out.printf("n=%d select(0.5) %.1f ms (pruned %d); selectGrid(9) %.1f ms; 9 x select %.1f ms;"
          + " Arrays.sort of a copy %.1f ms (%d masks)%n", n, (t1 - t0) / 1e6, half.totalPruned(),
          (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t5 - t4) / 1e6, masks.size());
    }
  }
}
