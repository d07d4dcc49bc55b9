package dev.lopper.eval;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.metrics.ExactSum;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;

/**
 * Times session building, batch-256 forward passes and {@link ExactSum} additions; not a test (run
 * by hand, with the class path in the CLASSPATH variable, never a long {@code -cp}):
 * {@code java dev.lopper.eval.EvaluationBenchmark data/digits-mlp.onnx data/digits-cnn.onnx}.
 */
public final class EvaluationBenchmark {
  private EvaluationBenchmark() {}

  public static void main(String[] args) {
    for (String path : args) {
      OnnxModel model = OnnxModel.load(ModelSource.onnx(path), new Configuration());
      long[] dims = model.inputs().get(0).dims();
      long[] rowShape = Arrays.copyOfRange(dims, 1, dims.length);
      String tensor = PrunableTensors.find(model).get(0).name();
      WeightTensor zeros = WeightTensor.zeros(tensor, model.weight(tensor).shape());
      try (BufferAllocator allocator = new RootAllocator();
           Evaluator evaluator = new Evaluator(model);
           Batch batch = randomBatch(rowShape, 256, allocator)) {
        for (int i = 0; i < 200; i++) {
          evaluator.variant(Map.of(tensor, zeros)).close();
        }
        int builds = 1000;
        long t0 = System.nanoTime();
        for (int i = 0; i < builds; i++) {
          evaluator.variant(Map.of(tensor, zeros)).close();
        }
        long t1 = System.nanoTime();
        long t2 = System.nanoTime();
        for (int i = 0; i < builds; i++) {
          evaluator.dense().close();
        }
        long t3 = System.nanoTime();
        try (VariantSession s = evaluator.dense()) {
          for (int i = 0; i < 500; i++) {
            s.logits(batch);
          }
          int runs = 3000;
          long t4 = System.nanoTime();
          for (int i = 0; i < runs; i++) {
            s.logits(batch);
          }
          long t5 = System.nanoTime();
          System.out.printf("%s: variant session build+close %.3f ms, dense %.3f ms; logits of 256"
              + " rows %.3f ms%n", path, (t1 - t0) / 1e6 / builds, (t3 - t2) / 1e6 / builds,
              (t5 - t4) / 1e6 / runs);
        }
      }
    }
    exactSum();
  }

  private static Batch randomBatch(long[] rowShape, int rows, BufferAllocator allocator) {
    int size = (int) WeightTensor.elementCount(rowShape);
    Random random = new Random(1);
    try (BatchBuilder b = new BatchBuilder(rowShape, rows, true, allocator)) {
      float[] row = new float[size];
      for (int r = 0; r < rows; r++) {
        for (int i = 0; i < size; i++) {
          row[i] = (float) random.nextGaussian();
        }
        b.add(row, 0);
      }
      return b.build();
    }
  }

  private static void exactSum() {
    int n = 2_000_000;
    double[] values = new double[n];
    Random random = new Random(2);
    for (int i = 0; i < n; i++) {
      values[i] = -Math.log(random.nextDouble()) * (random.nextInt(100) == 0 ? 1e-12 : 1);
    }
    for (int rep = 0; rep < 5; rep++) {
      long t0 = System.nanoTime();
      ExactSum s = new ExactSum();
      for (double v : values) {
        s.add(v);
      }
      double exact = s.value();
      long t1 = System.nanoTime();
      BigDecimal b = BigDecimal.ZERO;
      for (double v : values) {
        b = b.add(new BigDecimal(v));
      }
      double big = b.doubleValue();
      long t2 = System.nanoTime();
      double plain = 0;
      for (double v : values) {
        plain += v;
      }
      long t3 = System.nanoTime();
      System.out.printf("ExactSum add %.1f ns, BigDecimal add %.1f ns, double add %.2f ns"
          + " (equal: %b, plain differs by %.3g)%n", (t1 - t0) / (double) n, (t2 - t1) / (double) n,
          (t3 - t2) / (double) n, exact == big, plain - exact);
    }
  }
}
