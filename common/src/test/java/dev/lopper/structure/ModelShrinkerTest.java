package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.IntStream;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A shrunk model computes what its masked model computes (both written to files and run by ONNX
 * Runtime directly), passes the ONNX checker, and has the hand-computed shapes; cutting a group
 * apart gives a model ONNX Runtime refuses.
 */
class ModelShrinkerTest {
  private static final double TOLERANCE = 1e-4;
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  private OnnxModel sample(String name) {
    return OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), conf);
  }

  /** Every prunable group at {@code sparsity} by channel-l1. */
  private static ChannelSelection everyGroupAt(ModelStructure structure, double sparsity) {
    Map<Integer, Double> sparsities = new LinkedHashMap<>();
    structure.prunableGroups().forEach(g -> sparsities.put(g.id(), sparsity));
    return ChannelCriterion.l1().selection(structure.groups(), sparsities, structure.model().weights());
  }

  /** Writes the masked and the shrunk model, runs both on {@code input}, returns the largest difference. */
  private double shrunkAgainstMasked(ModelStructure structure, ChannelSelection selection, float[] input,
      long[] shape, String tag) throws OrtException {
    OnnxModel model = structure.model();
    MaskSet masks = selection.masks(structure);
    String masked = dir.resolve(tag + "-masked.onnx").toString();
    String shrunk = dir.resolve(tag + "-shrunk.onnx").toString();
    PrunedModelWriter.writeOnnx(model, masks.apply(model.weights()), masked, conf);
    ModelShrinker.shrink(structure, selection).writeOnnx(shrunk, conf);
    float[] a = ModelOutputs.run(masked, input, shape);
    float[] b = ModelOutputs.run(shrunk, input, shape);
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(shrunk);
      assertTrue(verdict.valid(), verdict.line());
    }
    return ModelOutputs.maxDifference(a, b);
  }

  @ParameterizedTest
  @CsvSource({
      "digits-mlp, 0.25", "digits-mlp, 0.5", "digits-mlp, 0.75",
      "digits-cnn, 0.25", "digits-cnn, 0.5", "digits-cnn, 0.75",
      "digits-resnet, 0.25", "digits-resnet, 0.5", "digits-resnet, 0.75"})
  void shrunkSampleModelsGiveTheMaskedModelsOutputs(String name, double sparsity) throws Exception {
    OnnxModel model = sample(name);
    ModelStructure structure = ModelStructure.analyse(model);
    ChannelSelection selection = everyGroupAt(structure, sparsity);
    float[] features = ModelOutputs.validationFeatures();
    long[] shape = name.equals("digits-mlp") ? new long[] {360, 64} : new long[] {360, 1, 8, 8};
    double difference = shrunkAgainstMasked(structure, selection, features, shape, name);
    assertTrue(difference <= TOLERANCE, name + " at " + sparsity + ": outputs differ by " + difference);

    float[] dense = ModelOutputs.run(SampleData.path(name + ".onnx"), features, shape);
    float[] shrunk = ModelOutputs.run(dir.resolve(name + "-shrunk.onnx").toString(), features, shape);
    assertTrue(ModelOutputs.maxDifference(dense, shrunk) > 1e-3, "pruning changed the outputs");
    assertTrue(Files.size(dir.resolve(name + "-shrunk.onnx")) < Files.size(Path.of(SampleData.path(name + ".onnx"))));
  }

  @Test
  void halfTheChannelsOfTheCnnGiveTheHandComputedShapes() throws IOException {
    ModelStructure cnn = ModelStructure.analyse(sample("digits-cnn"));
    ShrunkModel shrunk = ModelShrinker.shrink(cnn, firstHalf(cnn));
    Map<String, long[]> expected = new LinkedHashMap<>();
    expected.put("conv1.weight", new long[] {4, 1, 3, 3});
    expected.put("conv1.bias", new long[] {4});
    expected.put("bn1.running_var", new long[] {4});
    expected.put("conv2.weight", new long[] {8, 4, 3, 3});
    expected.put("bn2.weight", new long[] {8});
    expected.put("fc1.weight", new long[] {16, 128});
    expected.put("fc1.bias", new long[] {16});
    expected.put("fc2.weight", new long[] {10, 16});
    expected.put("fc2.bias", new long[] {10});
    expected.forEach((tensor, dims) -> assertArrayEquals(dims, shrunk.weights().get(tensor).shape(), tensor));
    // fc1 keeps the columns of conv2's channels 0..7: columns 0..127, in order.
    float[] dense = cnn.model().weight("fc1.weight").toArray();
    float[] kept = shrunk.weights().get("fc1.weight").toArray();
    for (int row = 0; row < 16; row++) {
      for (int col = 0; col < 128; col++) {
        assertEquals(dense[row * 256 + col], kept[row * 128 + col], "fc1.weight[" + row + ", " + col + "]");
      }
    }
    assertEquals(0, shrunk.graph().getGraph().getValueInfoCount());
    String written = dir.resolve("cnn-half.onnx").toString();
    shrunk.writeOnnx(written, conf);
    OnnxModel reloaded = OnnxModel.load(ModelSource.onnx(written), conf);
    assertArrayEquals(new long[] {8, 4, 3, 3}, reloaded.weight("conv2.weight").shape());
  }

  @Test
  void depthwiseConcatMatMulAndReshapeModelsShrinkToTheMaskedOutputs() throws Exception {
    List<Function<Path, OnnxModel>> models = List.of(SmallOnnxModels::depthwise,
        SmallOnnxModels::concat, SmallOnnxModels::matMulMlp, SmallOnnxModels::reshapeAfterConv);
    for (Function<Path, OnnxModel> make : models) {
      OnnxModel model = make.apply(dir);
      ModelStructure structure = ModelStructure.analyse(model);
      ChannelSelection selection = everyGroupAt(structure, 0.5);
      long[] shape = model.inputs().get(0).dims();
      shape[0] = 7;
      float[] input = ModelOutputs.random((int) Arrays.stream(shape).reduce(1, (x, y) -> x * y), 11);
      String tag = Path.of(model.source().onnxPath()).getFileName().toString();
      double difference = shrunkAgainstMasked(structure, selection, input, shape, tag);
      assertTrue(difference <= TOLERANCE, tag + ": outputs differ by " + difference);
    }
    ModelStructure depthwise = ModelStructure.analyse(SmallOnnxModels.depthwise(dir));
    ShrunkModel shrunk = ModelShrinker.shrink(depthwise, ChannelSelection.of(Map.of(0, new int[] {1, 3})));
    Onnx.NodeProto dw = shrunk.graph().getGraph().getNodeList().stream()
        .filter(n -> n.getName().equals("dw")).findFirst().orElseThrow();
    assertEquals(2, NodeAttributes.integer(dw, "group", 1));
    assertArrayEquals(new long[] {2, 1, 3, 3}, shrunk.weights().get("dw.weight").shape());
    assertArrayEquals(new long[] {3, 32}, shrunk.weights().get("fc.weight").shape());
  }

  @Test
  void cuttingOneSideOfTheResidualAddBreaksTheModelWhileTheGroupDoesNot() throws Exception {
    ModelStructure resnet = ModelStructure.analyse(sample("digits-resnet"));
    int[] keep = IntStream.range(0, 8).toArray();
    // Pruned per tensor, conv3's filters (with its bias and batch norm) lose channels 8..15 while
    // the skip connection still carries 16.
    Map<String, TensorSlice> oneSide = new LinkedHashMap<>();
    for (String t : List.of("conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias", "bn3.running_mean", "bn3.running_var")) {
      oneSide.put(t, TensorSlice.full(t, resnet.tensorShapes().get(t)).keepOnly(0, keep));
    }
    ShrunkModel broken = ModelShrinker.apply(resnet.model(), oneSide);
    String brokenFile = dir.resolve("one-side.onnx").toString();
    broken.writeOnnx(brokenFile, conf);
    float[] input = ModelOutputs.random(2 * 64, 5);
    OrtException refused = assertThrows(OrtException.class,
        () -> ModelOutputs.run(brokenFile, input, new long[] {2, 1, 8, 8}));
    assertTrue(refused.getMessage().contains("Add"), refused.getMessage());
    IllegalArgumentException inferred = assertThrows(IllegalArgumentException.class,
        () -> ShapeInference.infer(broken.graph().getGraph(), 1));
    assertTrue(inferred.getMessage().startsWith("node /Add (Add): operand shapes [[1, 16, 8, 8], [1, 8, 8, 8]]"),
        inferred.getMessage());

    ChannelSelection group = ChannelSelection.of(Map.of(0, keep));
    double difference = shrunkAgainstMasked(resnet, group, input, new long[] {2, 1, 8, 8}, "residual");
    assertTrue(difference <= TOLERANCE, "outputs differ by " + difference);
    ShrunkModel whole = ModelShrinker.shrink(resnet, group);
    assertArrayEquals(new long[] {8, 1, 3, 3}, whole.weights().get("conv1.weight").shape());
    assertArrayEquals(new long[] {8, 16, 3, 3}, whole.weights().get("conv3.weight").shape());
    assertArrayEquals(new long[] {16, 8, 3, 3}, whole.weights().get("conv2.weight").shape());
    assertArrayEquals(new long[] {10, 128}, whole.weights().get("fc.weight").shape());
  }

  @Test
  void refusesToShrinkAGroupThatIsNotPrunable() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.reshapeMixingChannels(dir));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ModelShrinker.shrink(model, ChannelSelection.of(Map.of(0, new int[] {1}))));
    assertEquals("channel group 0 (conv.weight) is not prunable structurally: node reshape (Reshape)"
        + " reshapes [1, 2, 4, 4] to [1, 4, 8], which mixes the channels' axis 1 with others", e.getMessage());
  }

  @Test
  void refusesToRemoveEveryChannelOfAGroup() {
    ModelStructure cnn = ModelStructure.analyse(sample("digits-cnn"));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ModelShrinker.shrink(cnn, ChannelSelection.of(Map.of(1, new int[0]))));
    assertEquals("channel group 1 (conv2.weight) would keep none of its 16 channels; keep at least one",
        e.getMessage());
  }

  /** Keeps channels 0 .. C/2-1 of every prunable group. */
  static ChannelSelection firstHalf(ModelStructure structure) {
    Map<Integer, int[]> kept = new LinkedHashMap<>();
    for (ChannelGroup g : structure.prunableGroups()) {
      kept.put(g.id(), IntStream.range(0, (int) g.channels() / 2).toArray());
    }
    return ChannelSelection.of(kept);
  }
}
