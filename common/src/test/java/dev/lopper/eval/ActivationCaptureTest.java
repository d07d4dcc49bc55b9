package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.calibration.CapturedValue;
import dev.lopper.data.Batch;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * {@link ActivationCapture}: inner values equal what the weights compute by hand, graph inputs are
 * the batch's features, the model's output is not computed, and replaced weights take effect
 * (Conv weights included, which {@code SessionOptions.addInitializer} would silently ignore).
 */
class ActivationCaptureTest {
  private static final int ROWS = 16;

  static OnnxModel sample(String name) {
    return OnnxModel.load(new ModelSource(SampleData.path(name + ".onnx"), SampleData.path(name + ".safetensors")),
        new Configuration());
  }

  @Test
  void capturesTheFirstHiddenLayerOfTheMlpAndItsInput() {
    OnnxModel model = sample("digits-mlp");
    assertEquals(List.of("/fc1/Gemm", "/Relu"), GraphCut.computing(model, Set.of("/Relu_output_0")).getGraph()
        .getNodeList().stream().map(n -> n.getName()).toList(), "the capture runs only what the value needs");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, List.of("/Relu_output_0", "input"), Map.of())) {
      List<Batch> batches = ValidationSet.batches(new long[] {64}, ROWS, allocator);
      try {
        Batch batch = batches.get(0);
        Map<String, CapturedValue> values = capture.run(batch);
        assertEquals(List.of("/Relu_output_0", "input"), List.copyOf(values.keySet()));
        float[] x = new float[ROWS * 64];
        batch.features().get(0, x);
        assertArrayEquals(new long[] {ROWS, 64}, values.get("input").shape());
        assertArrayEquals(x, values.get("input").toArray(), "a graph input is the batch's features");
        CapturedValue h = values.get("/Relu_output_0");
        assertArrayEquals(new long[] {ROWS, 64}, h.shape());
        assertClose(linearRelu(x, model.weight("fc1.weight").toArray(), model.weight("fc1.bias").toArray(), 64, 64),
            h.toArray(), "relu(fc1(x))");
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void replacedWeightsTakeEffectAndOthersAreLeftOut() {
    OnnxModel model = sample("digits-mlp");
    float[] w = model.weight("fc1.weight").toArray();
    for (int i = 0; i < w.length; i += 3) {
      w[i] = 0; // a third of fc1 pruned
    }
    WeightTensor pruned = WeightTensor.of("fc1.weight", new long[] {64, 64}, w);
    WeightTensor fc3 = WeightTensor.zeros("fc3.weight", new long[] {10, 32});
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, List.of("/Relu_output_0"),
            Map.of("fc1.weight", pruned, "fc3.weight", fc3))) {
      assertEquals(Set.of("fc1.weight"), capture.replacements().keySet(), "fc3 comes after the value");
      List<Batch> batches = ValidationSet.batches(new long[] {64}, ROWS, allocator);
      try {
        float[] x = new float[ROWS * 64];
        batches.get(0).features().get(0, x);
        assertClose(linearRelu(x, w, model.weight("fc1.bias").toArray(), 64, 64),
            capture.run(batches.get(0)).get("/Relu_output_0").toArray(), "relu(pruned fc1(x))");
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void replacedConvWeightsTakeEffect() {
    OnnxModel model = sample("digits-cnn");
    float[] bias = model.weight("conv1.bias").toArray();
    float[] gamma = model.weight("bn1.weight").toArray();
    float[] beta = model.weight("bn1.bias").toArray();
    float[] mean = model.weight("bn1.running_mean").toArray();
    float[] var = model.weight("bn1.running_var").toArray();
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture dense = new ActivationCapture(evaluator, List.of("/Relu_output_0"), Map.of());
        ActivationCapture zeroed = new ActivationCapture(evaluator, List.of("/Relu_output_0"),
            Map.of("conv1.weight", WeightTensor.zeros("conv1.weight", new long[] {8, 1, 3, 3})))) {
      List<Batch> batches = ValidationSet.batches(new long[] {1, 8, 8}, ROWS, allocator);
      try {
        CapturedValue h = zeroed.run(batches.get(0)).get("/Relu_output_0");
        assertArrayEquals(new long[] {ROWS, 8, 8, 8}, h.shape());
        // With conv1 zeroed, channel c is relu(bn1(bias c)) at every position of every image.
        float[] expected = new float[ROWS * 8 * 64];
        for (int i = 0; i < expected.length; i++) {
          int c = (i / 64) % 8;
          double y = gamma[c] * (bias[c] - mean[c]) / Math.sqrt(var[c] + 1e-5) + beta[c];
          expected[i] = (float) Math.max(0, y);
        }
        assertClose(expected, h.toArray(), "relu(bn1(conv1 zeroed))");
        assertFalse(java.util.Arrays.equals(h.toArray(), dense.run(batches.get(0)).get("/Relu_output_0").toArray()));
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void refusesUnknownValuesAndMisfitReplacements() {
    OnnxModel model = sample("digits-mlp");
    try (Evaluator evaluator = new Evaluator(model)) {
      String unknown = assertThrows(IllegalArgumentException.class,
          () -> new ActivationCapture(evaluator, List.of("/nothing"), Map.of())).getMessage();
      assertTrue(unknown.contains("no node computes a value named /nothing"), unknown);
      String shape = assertThrows(IllegalArgumentException.class, () -> new ActivationCapture(evaluator,
          List.of("/Relu_output_0"), Map.of("fc1.weight", WeightTensor.zeros("fc1.weight", new long[] {64, 63}))))
          .getMessage();
      assertTrue(shape.contains("replacement for fc1.weight has shape [64, 63]"), shape);
      assertThrows(IllegalArgumentException.class, () -> new ActivationCapture(evaluator, List.of(), Map.of()));
    }
  }

  /** relu(x·Wᵀ + b) in float64, rounded to float32; x [rows, in], W [out, in]. */
  private static float[] linearRelu(float[] x, float[] w, float[] b, int in, int out) {
    int rows = x.length / in;
    float[] y = new float[rows * out];
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double s = b[o];
        for (int i = 0; i < in; i++) {
          s += (double) x[r * in + i] * w[o * in + i];
        }
        y[r * out + o] = (float) Math.max(0, s);
      }
    }
    return y;
  }

  /** Within float32 rounding of a float64 computation: 1e-5 relative to the value's scale. */
  static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    double scale = 0;
    for (float v : expected) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5 * scale, what + " at " + i);
    }
  }
}
