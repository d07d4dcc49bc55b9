package dev.lopper.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.ConsumerInput.Layout;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.eval.Evaluator;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ConsumerInput} and {@link ConsumerInputs}: which value, layout and width each tensor's statistics take. */
class ConsumerInputTest {
  @TempDir Path dir;

  static OnnxModel sample(String name) {
    return OnnxModel.load(new ModelSource(SampleData.path(name + ".onnx"), SampleData.path(name + ".safetensors")),
        new Configuration());
  }

  private static ConsumerInputs inputs(OnnxModel model) {
    return ConsumerInputs.of(model, PrunableTensors.find(model));
  }

  private static void assertInput(ConsumerInput input, String value, Layout layout, int dim) {
    assertEquals(value, input.value(), input.toString());
    assertEquals(layout, input.layout(), input.toString());
    assertEquals(dim, input.dim(), input.toString());
  }

  @Test
  void gemmWeightsOfTheMlpReadTheRowsOfTheirInputs() {
    Map<String, ConsumerInput> byTensor = inputs(sample("digits-mlp")).byTensor();
    assertInput(byTensor.get("fc1.weight"), "input", Layout.ROWS, 64);
    assertInput(byTensor.get("fc2.weight"), "/Relu_output_0", Layout.ROWS, 64);
    assertInput(byTensor.get("fc3.weight"), "/Relu_1_output_0", Layout.ROWS, 32);
    assertEquals("input", byTensor.get("fc1.weight").key());
  }

  @Test
  void convWeightsReadIm2colPatchesOfTheirInputs() {
    Map<String, ConsumerInput> byTensor = inputs(sample("digits-cnn")).byTensor();
    ConsumerInput conv1 = byTensor.get("conv1.weight");
    assertInput(conv1, "input", Layout.PATCHES, 9);
    assertEquals(new ConsumerInput.Patches(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, ConsumerInput.AutoPad.NOTSET),
        conv1.patches());
    assertEquals("input (patches 3x3, stride 1x1, dilation 1x1, pads 1,1,1,1)", conv1.key());
    assertInput(byTensor.get("conv2.weight"), "/Relu_output_0", Layout.PATCHES, 72);
    assertInput(byTensor.get("fc1.weight"), "/flatten/Flatten_output_0", Layout.ROWS, 256);
    assertInput(byTensor.get("fc2.weight"), "/Relu_2_output_0", Layout.ROWS, 32);
    assertNull(byTensor.get("fc2.weight").patches());
  }

  @Test
  void queryKeyAndValueOfABlockShareOneInput() {
    ConsumerInputs inputs = inputs(sample("tiny-lm"));
    assertEquals(13, inputs.byTensor().size());
    assertEquals(9, inputs.inputs().size());
    Map<String, ConsumerInput> byTensor = inputs.byTensor();
    for (String block : List.of("blocks.0", "blocks.1")) {
      ConsumerInput q = byTensor.get(block + ".attn.q_proj.weight");
      assertInput(q, "/" + block + "/ln1/Add_1_output_0", Layout.ROWS, 64);
      assertEquals(q, byTensor.get(block + ".attn.k_proj.weight"));
      assertEquals(q, byTensor.get(block + ".attn.v_proj.weight"));
      assertInput(byTensor.get(block + ".attn.out_proj.weight"), "/" + block + "/attn/Reshape_3_output_0",
          Layout.ROWS, 64);
      assertInput(byTensor.get(block + ".mlp.up.weight"), "/" + block + "/ln2/Add_1_output_0", Layout.ROWS, 64);
      assertInput(byTensor.get(block + ".mlp.down.weight"), "/" + block + "/mlp/act/Mul_1_output_0", Layout.ROWS,
          256);
    }
    assertInput(byTensor.get("lm_head.weight"), "/ln_f/Add_1_output_0", Layout.ROWS, 64);
    assertEquals(9, inputs.values().size());
  }

  @Test
  void statisticsByKeyAreHandedToEveryTensorOfTheKey() {
    ConsumerInputs inputs = inputs(sample("tiny-lm"));
    java.util.TreeMap<String, InputStatistics> byKey = new java.util.TreeMap<>();
    for (ConsumerInput input : inputs.inputs()) {
      byKey.put(input.key(), InputStatistics.empty(input.dim(), false));
    }
    Map<String, InputStatistics> byTensor = inputs.byTensor(ChunkStatistics.of(byKey));
    assertEquals(13, byTensor.size());
    assertSame(byTensor.get("blocks.1.attn.q_proj.weight"), byTensor.get("blocks.1.attn.v_proj.weight"));
    byKey.remove("/ln_f/Add_1_output_0");
    String message = assertThrows(IllegalArgumentException.class, () -> inputs.byTensor(ChunkStatistics.of(byKey)))
        .getMessage();
    assertTrue(message.contains("lm_head.weight (/ln_f/Add_1_output_0)"), message);
  }

  @Test
  void matMulWeightsStoredInputFirstOrTransposed() {
    Map<String, ConsumerInput> plain = inputs(SmallOnnxModels.matMulMlp(dir)).byTensor();
    assertInput(plain.get("w1"), "x", Layout.ROWS, 4); // w1 [4, 6]: X·W
    assertInput(plain.get("w2"), "hr", Layout.ROWS, 6);
    OnnxModel transposed = SmallOnnxModels.transposedLinear(dir);
    List<PrunableTensor> tensors = PrunableTensors.find(transposed);
    assertInput(ConsumerInput.of(transposed, tensors.get(0)), "x", Layout.ROWS, 4); // w1 [6, 4] through Transpose
    assertInput(ConsumerInput.of(transposed, tensors.get(1)), "hr", Layout.ROWS, 6);
    String message = assertThrows(InvalidInputException.class, () -> ConsumerInput.of(transposed, tensors.get(2)))
        .getMessage();
    assertTrue(message.contains("tensor w3 reaches MatMul node /fc3/MatMul through a Reshape"), message);
  }

  @Test
  void weightsOnEitherSideOfTheirProductAndTransposedActivations() {
    Map<String, ConsumerInput> byTensor = inputs(SmallOnnxModels.operandOrders(dir)).byTensor();
    assertInput(byTensor.get("a.weight"), "xt", Layout.COLUMNS, 4); // Gemm(xt, a, transA, transB)
    assertEquals("xt (columns)", byTensor.get("a.weight").key());
    assertInput(byTensor.get("b.weight"), "h", Layout.ROWS, 5); // Gemm(b, h, transB): h's rows
    assertInput(byTensor.get("c.weight"), "y", Layout.COLUMNS, 3); // MatMul(c, y): y's columns
  }

  @Test
  void aTransposedActivationsColumnsGiveTheStatisticsOfItsRows() {
    OnnxModel model = SmallOnnxModels.operandOrders(dir);
    ConsumerInputs inputs = inputs(model);
    ConsumerInput rows = new ConsumerInput("x", Layout.ROWS, 4, null);
    GramOptions plain = GramOptions.of(GramOptions.Engine.JAVA);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, List.of("x", "xt", "h", "y"), Map.of());
        BatchBuilder builder = new BatchBuilder(new long[] {4}, 7, false, allocator)) {
      Random random = new Random(9);
      for (int r = 0; r < 7; r++) {
        builder.add(new float[] {(float) random.nextGaussian(), (float) random.nextGaussian(),
            (float) random.nextGaussian(), (float) random.nextGaussian()});
      }
      try (Batch batch = builder.build()) {
        Map<String, CapturedValue> values = capture.run(batch);
        assertArrayEquals(new long[] {4, 7}, values.get("xt").shape());
        ChunkStatistics chunk = ChunkStatistics.compute(batch, values, inputs.inputs(), plain);
        // xt's columns are x's rows, in the same order: the same sums bit for bit.
        assertEquals(ChunkStatistics.of(rows, batch, values.get("x"), plain), chunk.get("xt (columns)"));
        assertEquals(7, chunk.get("h").count());
        assertEquals(7, chunk.get("y (columns)").count());
        assertEquals(3, chunk.get("y (columns)").dim());
      }
    }
  }

  @Test
  void refusesGroupedConvolutionsNamingTheTensor() {
    OnnxModel model = SmallOnnxModels.groupedConv(dir);
    String message = assertThrows(InvalidInputException.class, () -> inputs(model)).getMessage();
    assertTrue(message.contains("tensor conv2.weight (input 1 of Conv node conv2) is a grouped convolution"
        + " (group=2), which is not supported for activation-aware criteria"), message);
    assertInput(ConsumerInput.of(model, PrunableTensors.find(model).get(0)), "x", Layout.PATCHES, 9);
  }

  @Test
  void autoPadSameAndValidResolveToONNXsPads() {
    ConsumerInput.Patches upper = new ConsumerInput.Patches(3, 2, 2, 2, 1, 1, 0, 0, 0, 0,
        ConsumerInput.AutoPad.SAME_UPPER);
    // height 5, stride 2: 3 outputs need (3-1)*2+3 = 7 rows, 2 of padding; width 6: 3 outputs, 6 columns, none.
    assertArrayEquals(new int[] {1, 0, 1, 0}, upper.pads(5, 6));
    ConsumerInput.Patches lower = new ConsumerInput.Patches(2, 2, 1, 1, 1, 1, 0, 0, 0, 0,
        ConsumerInput.AutoPad.SAME_LOWER);
    assertArrayEquals(new int[] {1, 1, 0, 0}, lower.pads(4, 4)); // one row and one column, at the start
    ConsumerInput.Patches valid = new ConsumerInput.Patches(2, 2, 1, 1, 1, 1, 3, 3, 3, 3, ConsumerInput.AutoPad.VALID);
    assertArrayEquals(new int[4], valid.pads(4, 4));
    ConsumerInput.Patches explicit = new ConsumerInput.Patches(2, 2, 1, 1, 1, 1, 0, 1, 2, 3,
        ConsumerInput.AutoPad.NOTSET);
    assertArrayEquals(new int[] {0, 1, 2, 3}, explicit.pads(4, 4));
  }

  @Test
  void consumerInputsSurviveJavaSerialization() throws Exception {
    ConsumerInputs inputs = inputs(sample("digits-cnn"));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(inputs);
    }
    Object back = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
    assertEquals(inputs, back);
    assertEquals(inputs.inputs(), ((ConsumerInputs) back).inputs());
  }
}
