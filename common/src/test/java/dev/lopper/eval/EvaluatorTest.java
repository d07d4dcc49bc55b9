package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import dev.lopper.fixtures.SmallOnnxModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ONNX Runtime's outputs against plain-Java forward passes of the tiny test models. */
class EvaluatorTest {
  @TempDir Path dir;
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    assertEquals(0, allocator.getAllocatedMemory());
    allocator.close();
  }

  private Batch randomBatch(long[] rowShape, int rows, long seed) {
    int size = 1;
    for (long d : rowShape) {
      size *= (int) d;
    }
    Random random = new Random(seed);
    try (BatchBuilder b = new BatchBuilder(rowShape, rows, true, allocator)) {
      for (int r = 0; r < rows; r++) {
        float[] row = new float[size];
        for (int i = 0; i < size; i++) {
          row[i] = (float) random.nextGaussian();
        }
        b.add(row, r % 3);
      }
      return b.build();
    }
  }

  private static float[] rowOf(Batch batch, int r) {
    float[] row = new float[batch.rowSize()];
    batch.features().get(r * batch.rowSize(), row);
    return row;
  }

  private static float[] weights(OnnxModel model, String name, Map<String, WeightTensor> replaced) {
    WeightTensor w = replaced.getOrDefault(name, model.weight(name));
    return w.toArray();
  }

  /** y = x W^T + b for one row. */
  private static double[] gemm(double[] x, float[] w, float[] b) {
    double[] y = new double[b.length];
    for (int o = 0; o < b.length; o++) {
      double s = b[o];
      for (int i = 0; i < x.length; i++) {
        s += x[i] * w[o * x.length + i];
      }
      y[o] = s;
    }
    return y;
  }

  private static double[] relu(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = Math.max(0, x[i]);
    }
    return y;
  }

  private static double[] mlpForward(OnnxModel m, float[] row, Map<String, WeightTensor> rep) {
    double[] x = new double[row.length];
    for (int i = 0; i < row.length; i++) {
      x[i] = row[i];
    }
    double[] h = relu(gemm(x, weights(m, "fc1.weight", rep), weights(m, "fc1.bias", rep)));
    return gemm(h, weights(m, "fc2.weight", rep), weights(m, "fc2.bias", rep));
  }

  private static double[] cnnForward(OnnxModel m, float[] image, Map<String, WeightTensor> rep) {
    float[] k = weights(m, "conv.weight", rep);
    float[] kb = weights(m, "conv.bias", rep);
    double[] flat = new double[32];
    for (int c = 0; c < 2; c++) {
      for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 4; x++) {
          double s = kb[c];
          for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
              int yy = y + dy;
              int xx = x + dx;
              if (yy >= 0 && yy < 4 && xx >= 0 && xx < 4) {
                s += image[yy * 4 + xx] * k[c * 9 + (dy + 1) * 3 + (dx + 1)];
              }
            }
          }
          flat[c * 16 + y * 4 + x] = Math.max(0, s);
        }
      }
    }
    return gemm(flat, weights(m, "fc.weight", rep), weights(m, "fc.bias", rep));
  }

  private interface Forward {
    double[] apply(OnnxModel m, float[] row, Map<String, WeightTensor> rep);
  }

  private static void assertMatches(Forward forward, OnnxModel model, Batch batch, Logits logits,
      Map<String, WeightTensor> rep) {
    assertEquals(batch.rows(), logits.rows());
    for (int r = 0; r < batch.rows(); r++) {
      double[] expected = forward.apply(model, rowOf(batch, r), rep);
      assertEquals(expected.length, logits.classes());
      for (int c = 0; c < expected.length; c++) {
        assertEquals(expected[c], logits.get(r, c), 1e-5, "row " + r + " class " + c);
      }
    }
  }

  private static WeightTensor randomLike(WeightTensor w, long seed) {
    Random random = new Random(seed);
    float[] v = new float[w.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return WeightTensor.of(w.name(), w.shape(), v);
  }

  @Test
  void denseLogitsEqualAPlainJavaForwardPass() {
    OnnxModel mlp = SmallOnnxModels.mlp(dir);
    OnnxModel cnn = SmallOnnxModels.cnn(dir);
    try (Evaluator e = new Evaluator(mlp); VariantSession s = e.dense();
         Batch batch = randomBatch(new long[] {4}, 9, 1)) {
      assertMatches(EvaluatorTest::mlpForward, mlp, batch, s.logits(batch), Map.of());
    }
    try (Evaluator e = new Evaluator(cnn); VariantSession s = e.dense();
         Batch batch = randomBatch(new long[] {1, 4, 4}, 9, 2)) {
      assertMatches(EvaluatorTest::cnnForward, cnn, batch, s.logits(batch), Map.of());
    }
  }

  @Test
  void variantsEvaluateTheirReplacedConvAndGemmWeights() {
    OnnxModel cnn = SmallOnnxModels.cnn(dir);
    try (Evaluator e = new Evaluator(cnn);
         Batch batch = randomBatch(new long[] {1, 4, 4}, 16, 3)) {
      Logits dense;
      try (VariantSession s = e.dense()) {
        dense = s.logits(batch);
      }
      for (String name : List.of("conv.weight", "fc.weight")) {
        Map<String, WeightTensor> rep = Map.of(name, randomLike(cnn.weight(name), name.length()));
        try (VariantSession s = e.variant(rep)) {
          Logits logits = s.logits(batch);
          assertNotEquals(dense, logits, name);
          assertMatches(EvaluatorTest::cnnForward, cnn, batch, logits, rep);
        }
      }
      // Closing variants never closed the shared dense tensors: the dense model still evaluates.
      try (VariantSession s = e.dense()) {
        assertEquals(dense, s.logits(batch));
      }
    }
  }

  @Test
  void sessionsOpenTogetherEachEvaluateTheirOwnWeights() {
    OnnxModel mlp = SmallOnnxModels.mlp(dir);
    Map<String, WeightTensor> rep1 = Map.of("fc1.weight", randomLike(mlp.weight("fc1.weight"), 1));
    Map<String, WeightTensor> rep2 = Map.of("fc2.weight", randomLike(mlp.weight("fc2.weight"), 2),
        "fc1.weight", WeightTensor.zeros("fc1.weight", new long[] {5, 4}));
    try (Evaluator e = new Evaluator(mlp); Batch batch = randomBatch(new long[] {4}, 5, 4);
         VariantSession a = e.variant(rep1); VariantSession b = e.variant(rep2);
         VariantSession d = e.dense()) {
      assertMatches(EvaluatorTest::mlpForward, mlp, batch, a.logits(batch), rep1);
      assertMatches(EvaluatorTest::mlpForward, mlp, batch, b.logits(batch), rep2);
      assertMatches(EvaluatorTest::mlpForward, mlp, batch, d.logits(batch), Map.of());
    }
  }

  @Test
  void replacementsMustNameAWeightOfTheSameShape() {
    OnnxModel mlp = SmallOnnxModels.mlp(dir);
    try (Evaluator e = new Evaluator(mlp)) {
      assertThrows(IllegalArgumentException.class,
          () -> e.variant(Map.of("nope", WeightTensor.zeros("nope", new long[] {5, 4}))));
      IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
          () -> e.variant(Map.of("fc1.weight", WeightTensor.zeros("fc1.weight", new long[] {4, 5}))));
      assertTrue(ex.getMessage().contains("fc1.weight"), ex.getMessage());
    }
  }

  @Test
  void probeFindsEveryPrunableTensorTakesEffect() {
    for (OnnxModel model : List.of(SmallOnnxModels.mlp(dir), SmallOnnxModels.cnn(dir))) {
      List<PrunableTensor> tensors = PrunableTensors.find(model);
      assertFalse(tensors.isEmpty());
      try (Evaluator e = new Evaluator(model)) {
        assertDoesNotThrow(() -> e.checkReplacementsTakeEffect(tensors));
      }
    }
  }

  @Test
  void probeNamesATensorWhoseZeroingChangesNothing() {
    OnnxModel model = SmallOnnxModels.deadBranch(dir);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    try (Evaluator e = new Evaluator(model)) {
      InvalidInputException ex = assertThrows(InvalidInputException.class,
          () -> e.checkReplacementsTakeEffect(tensors));
      assertTrue(ex.getMessage().contains("dead.weight"), ex.getMessage());
      assertTrue(ex.getMessage().contains("did not evaluate the replaced weights"), ex.getMessage());
      assertDoesNotThrow(() -> e.checkReplacementsTakeEffect(
          tensors.stream().filter(t -> t.name().equals("live.weight")).toList()));
    }
  }

  @Test
  void probeRefusesATensorTheOutputDoesNotDependOn() {
    OnnxModel model = SmallOnnxModels.branches(dir);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    assertTrue(tensors.stream().anyMatch(t -> t.name().equals("d.weight")), tensors.toString());
    try (Evaluator e = new Evaluator(model)) {
      InvalidInputException ex = assertThrows(InvalidInputException.class,
          () -> e.checkReplacementsTakeEffect(tensors));
      assertTrue(ex.getMessage().contains("zeroing weight tensor d.weight"), ex.getMessage());
      assertTrue(ex.getMessage().contains("no effect on it"), ex.getMessage());
      assertDoesNotThrow(() -> e.checkReplacementsTakeEffect(
          tensors.stream().filter(t -> !t.name().equals("d.weight")).toList()));
    }
  }

  @Test
  void refusesABatchWhoseRowShapeDoesNotFitTheInput() {
    OnnxModel cnn = SmallOnnxModels.cnn(dir);
    try (Evaluator e = new Evaluator(cnn); VariantSession s = e.dense();
         Batch batch = randomBatch(new long[] {16}, 2, 5)) {
      InvalidInputException ex = assertThrows(InvalidInputException.class, () -> s.logits(batch));
      assertTrue(ex.getMessage().contains("input x"), ex.getMessage());
      assertTrue(ex.getMessage().contains("[16]"), ex.getMessage());
      assertTrue(ex.getMessage().contains("[-1, 1, 4, 4]"), ex.getMessage());
    }
  }

  @Test
  void refusesAnOutputThatIsNotAMatrixOfLogits() {
    OnnxModel model = SmallOnnxModels.imageOutput(dir);
    try (Evaluator e = new Evaluator(model); VariantSession s = e.dense();
         Batch batch = randomBatch(new long[] {1, 4, 4}, 2, 6)) {
      InvalidInputException ex = assertThrows(InvalidInputException.class, () -> s.logits(batch));
      assertTrue(ex.getMessage().contains("output y"), ex.getMessage());
      assertTrue(ex.getMessage().contains("[2, 1, 4, 4]"), ex.getMessage());
    }
  }

  @Test
  void onnxRuntimeReadsTheBatchBufferInPlace() throws Exception {
    try (Batch batch = randomBatch(new long[] {4}, 3, 7);
         OnnxTensor t = OnnxTensor.createTensor(OrtRuntime.environment(), batch.features(),
             batch.shape())) {
      assertFalse(t.ownsBuffer());
      batch.featureVector().set(5, 42f); // write through Arrow after the tensor was made
      assertEquals(42f, t.getFloatBuffer().get(5)); // ORT's native tensor sees it: same memory
    }
  }

  @Test
  void closingTheEvaluatorClosesItsOpenSessions() {
    OnnxModel mlp = SmallOnnxModels.mlp(dir);
    Evaluator e = new Evaluator(mlp);
    e.dense();
    e.variant(Map.of("fc1.weight", WeightTensor.zeros("fc1.weight", new long[] {5, 4})));
    e.close();
    e.close();
    assertThrows(IllegalStateException.class, e::dense);
  }
}
