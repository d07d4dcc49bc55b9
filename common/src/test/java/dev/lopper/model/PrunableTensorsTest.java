package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table;
import dev.lopper.eval.Evaluator;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrunableTensorsTest {
  private static final Configuration CONF = new Configuration();
  private static final OnnxModel CNN = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), CONF);
  private static final OnnxModel MLP = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-mlp.onnx")), CONF);

  @Test
  void findsConvAndGemmWeightsButNotBiasesOrNormalisation() {
    List<PrunableTensor> cnn = PrunableTensors.find(CNN);
    assertEquals(List.of("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"),
        cnn.stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("Conv", "Conv", "Gemm", "Gemm"), cnn.stream().map(PrunableTensor::opType).toList());
    assertArrayEquals(new long[] {16, 8, 3, 3}, cnn.get(1).shape());
    assertEquals(16 * 8 * 9, cnn.get(1).parameters());
    assertEquals(List.of("fc1.weight", "fc2.weight", "fc3.weight"),
        PrunableTensors.find(MLP).stream().map(PrunableTensor::name).toList());
  }

  @Test
  void includeAndExcludeGlobsSelectByName() {
    assertEquals(List.of("conv1.weight", "conv2.weight"),
        PrunableTensors.find(CNN, List.of("conv*"), List.of()).stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("conv1.weight", "conv2.weight"),
        PrunableTensors.find(CNN, List.of("*"), List.of("fc?.weight")).stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("conv2.weight", "fc1.weight"),
        PrunableTensors.find(CNN, List.of("*2.weight", "fc1.*"), List.of("fc2*")).stream().map(PrunableTensor::name).toList());
  }

  @Test
  void refusesIncludeGlobThatMatchesNothing() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> PrunableTensors.find(CNN, List.of("conv*", "layer4.*"), List.of()));
    assertTrue(e.getMessage().contains("layer4.*") && e.getMessage().contains("conv1.weight"), e.getMessage());
  }

  @Test
  void listingHasNameOpNodeShapeAndParameters() {
    Table listing = PrunableTensors.listing(PrunableTensors.find(CNN));
    assertEquals(List.of("tensor", "op", "node", "shape", "parameters"),
        listing.columns().stream().map(Table.Column::name).toList());
    assertEquals(4, listing.rows().size());
    assertEquals(8L * 9, listing.rows().get(0).get(4));
  }

  @Test
  void followsTransposeCastReshapeAndIdentityToTheInitializer(@TempDir Path dir) {
    OnnxModel model = SmallOnnxModels.transposedLinear(dir);
    List<PrunableTensor> found = PrunableTensors.find(model);
    assertEquals(List.of("w1", "w2", "w3"), found.stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("MatMul", "MatMul", "MatMul"), found.stream().map(PrunableTensor::opType).toList());
    assertEquals(List.of("/fc1/MatMul", "/fc2/MatMul", "/fc3/MatMul"),
        found.stream().map(PrunableTensor::nodeName).toList(), "named by the layer that multiplies");
    assertEquals(List.of(true, false, false), found.stream().map(PrunableTensor::transposed).toList(),
        "only the Transpose makes the stored rows the output neurons");
    assertArrayEquals(new long[] {2, 9}, found.get(2).shape(), "the initializer's own layout");
    assertEquals(List.of(1, 1, 1), found.stream().map(PrunableTensor::inputIndex).toList());
  }

  @Test
  void anonymousInitializersAreNamedByTheNodeThatMultipliesByThem(@TempDir Path dir) {
    OnnxModel model = SmallOnnxModels.transposedLinear(dir, "onnx::MatMul_11", "12", "fc3.weight");
    List<PrunableTensor> found = PrunableTensors.find(model);
    assertEquals(List.of("onnx::MatMul_11", "12", "fc3.weight"), found.stream().map(PrunableTensor::name).toList());
    assertEquals(Arrays.asList("/fc1/MatMul", "/fc2/MatMul", null),
        found.stream().map(PrunableTensor::readableName).toList(),
        "past the Transpose, Identity and Cast to the MatMul; a name of its own needs none");
  }

  @Test
  void theSamplesNamedTensorsHaveNoReadableNameBeside() {
    for (String onnx : List.of("digits-cnn.onnx", "digits-mlp.onnx", "digits-resnet.onnx", "tiny-lm.onnx")) {
      List<PrunableTensor> found = PrunableTensors.find(OnnxModel.load(ModelSource.onnx(SampleData.path(onnx)), CONF));
      assertTrue(found.size() >= 3 && found.stream().allMatch(t -> t.readableName() == null), onnx + ": " + found);
    }
  }

  @Test
  void anonymousMeansNamedByTheExporter() {
    for (String name : List.of("onnx::MatMul_787", "onnx::Conv_123", "onnx::Gemm_5", "23")) {
      assertTrue(ReadableNames.anonymous(name), name);
    }
    for (String name : List.of("fc1.weight", "encoder.layer.0.attention.self.query.weight", "w1",
        "dense/kernel:0", "layer_23", "", "onnx_like::x")) {
      assertFalse(ReadableNames.anonymous(name), name);
    }
    assertEquals("/encoder/layer.0/attention/self/query/MatMul",
        ReadableNames.of("onnx::MatMul_787", "/encoder/layer.0/attention/self/query/MatMul"));
    assertNull(ReadableNames.of("fc1.weight", "/fc1/Gemm"), "a name of its own");
    assertNull(ReadableNames.of("onnx::MatMul_787", "onnx::MatMul_790"), "a node named after a value says no more");
    assertNull(ReadableNames.of("onnx::MatMul_787", ""));
  }

  @Test
  void aWeightBehindATransposeIsReplacedInOnnxRuntime(@TempDir Path dir) {
    OnnxModel model = SmallOnnxModels.transposedLinear(dir);
    try (Evaluator evaluator = new Evaluator(model)) {
      // Throws when zeroing a tensor leaves the output bitwise unchanged (a replacement that did not take).
      evaluator.checkReplacementsTakeEffect(PrunableTensors.find(model));
    }
  }

  @Test
  void findsEveryLinearWeightOfTheSampleLanguageModelBehindItsTranspose() throws Exception {
    OnnxModel lm = OnnxModel.load(ModelSource.onnx(SampleData.path("tiny-lm.onnx")), CONF);
    // The tensors PyTorch's reference swept: every nn.Linear weight, in state-dict order.
    List<String> reference = java.nio.file.Files.readAllLines(Path.of(SampleData.path("reference/tiny-lm-sensitivity.csv")))
        .stream().skip(1).map(line -> line.substring(0, line.indexOf(','))).filter(t -> !t.isEmpty()).distinct()
        .toList();
    List<PrunableTensor> found = PrunableTensors.find(lm);
    assertEquals(reference, found.stream().map(PrunableTensor::name).toList());
    assertTrue(found.stream().allMatch(t -> t.opType().equals("MatMul") && t.transposed()), found.toString());
    assertArrayEquals(new long[] {256, 64}, found.get(found.size() - 1).shape(), "lm_head as stored, [out, in]");
  }
}
