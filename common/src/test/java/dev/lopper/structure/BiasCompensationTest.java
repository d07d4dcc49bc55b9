package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bias compensation is exact on the mean for Gemm and MatMul consumers: a channel whose value is
 * the same for every sample (its producer's weights zero, its bias 0.75, so 0.75 after the ReLU)
 * is removed and the model's outputs stay those of the dense model on random inputs, while without
 * compensation they move. The statistics are stated, not measured: that channel's mean is 0.75.
 */
class BiasCompensationTest {
  private static final Configuration CONF = new Configuration();
  private static final float CONSTANT = 0.75f;
  private static final int CHANNEL = 2;

  @TempDir Path dir;

  @Test
  void removingAConstantChannelFeedingAGemmLeavesTheOutputsUnchanged() throws Exception {
    // fc1.weight [5, 4]: row 2 is channel 2's producer.
    constantChannelIsCompensatedExactly(SmallOnnxModels::mlp, "fc1.weight", 0, "fc1.bias", "fc2.weight");
  }

  @Test
  void removingAConstantChannelFeedingAMatMulLeavesTheOutputsUnchanged() throws Exception {
    // w1 [4, 6]: column 2 is channel 2's producer; the bias is the Add's b1, the consumer w2 [6, 3].
    constantChannelIsCompensatedExactly(SmallOnnxModels::matMulMlp, "w1", 1, "b1", "w2");
  }

  @Test
  void refusesToCompensateWithoutTheConsumersStatistics() {
    OnnxModel model = SmallOnnxModels.mlp(dir);
    ModelStructure structure = ModelStructure.analyse(model);
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    ChannelSelection selection = ChannelSelection.of(Map.of(0, new int[] {0, 1, 3, 4}));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> compensation.biases(structure.groups(), selection, model.weights(), Map.of()));
    assertTrue(e.getMessage().contains("fc2.weight"), e.getMessage());
  }

  @Test
  void aConsumerWithoutABiasBlocksItsGroupsCompensationWithAReason() {
    // The MLP with fc2's C removed: fc1's channels have nowhere to put their mean.
    OnnxModel mlp = SmallOnnxModels.mlp(dir);
    onnx.Onnx.GraphProto.Builder graph = mlp.graph().getGraph().toBuilder();
    for (int n = 0; n < graph.getNodeCount(); n++) {
      if (graph.getNode(n).getName().equals("fc2")) {
        onnx.Onnx.NodeProto.Builder node = graph.getNode(n).toBuilder();
        java.util.List<String> inputs = new java.util.ArrayList<>(node.getInputList().subList(0, 2));
        graph.setNode(n, node.clearInput().addAllInput(inputs));
      }
    }
    for (int i = 0; i < graph.getInitializerCount(); i++) {
      if (graph.getInitializer(i).getName().equals("fc2.bias")) {
        graph.removeInitializer(i);
        break;
      }
    }
    Map<String, WeightTensor> weights = new java.util.LinkedHashMap<>(mlp.weights());
    weights.remove("fc2.bias");
    String file = dir.resolve("no-bias.onnx").toString();
    PrunedModelWriter.writeOnnx(mlp.graph().toBuilder().setGraph(graph).build(), weights, file, CONF);
    OnnxModel model = OnnxModel.load(ModelSource.onnx(file), CONF);
    ModelStructure structure = ModelStructure.analyse(model);
    ChannelGroup fc1 = structure.group("fc1.weight").orElseThrow();
    assertTrue(fc1.prunable(), fc1.reason());

    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    String reason = compensation.blocker(fc1.id()).orElseThrow();
    assertEquals("no bias compensation: fc2.weight: Gemm node fc2 has no bias (Lopper does not add one)", reason);
    // A blocked group is pruned without compensation: no bias changes.
    Map<String, InputStatistics> statistics = Map.of("fc2.weight",
        new InputStatistics(5, 10, new double[] {1, 2, 3, 4, 5}, new double[] {9, 9, 9, 9, 9}, null));
    assertEquals(Map.of(), compensation.biases(structure.groups(),
        ChannelSelection.of(Map.of(fc1.id(), new int[] {0, 1})), model.weights(), statistics));
  }

  private void constantChannelIsCompensatedExactly(Function<Path, OnnxModel> make, String producer, int axis,
      String producerBias, String consumer) throws Exception {
    OnnxModel original = make.apply(dir);
    float[] w = original.weight(producer).toArray();
    long[] shape = original.weight(producer).shape();
    for (int i = 0; i < shape[1 - axis]; i++) {
      w[axis == 0 ? CHANNEL * (int) shape[1] + i : i * (int) shape[1] + CHANNEL] = 0;
    }
    float[] b = original.weight(producerBias).toArray();
    b[CHANNEL] = CONSTANT;
    String file = dir.resolve("constant.onnx").toString();
    PrunedModelWriter.writeOnnx(original, Map.of(producer, WeightTensor.of(producer, shape, w),
        producerBias, WeightTensor.of(producerBias, original.weight(producerBias).shape(), b)), file, CONF);
    OnnxModel model = OnnxModel.load(ModelSource.onnx(file), CONF);
    ModelStructure structure = ModelStructure.analyse(model);
    ChannelGroup group = structure.group(producer).orElseThrow();
    int channels = (int) group.channels();

    // 100 samples; channel 2 is 0.75 in each, the other channels' values do not matter here.
    long n = 100;
    double[] sums = new double[channels];
    double[] squares = new double[channels];
    Arrays.fill(sums, 3.0);
    Arrays.fill(squares, 50.0);
    sums[CHANNEL] = n * (double) CONSTANT;
    squares[CHANNEL] = n * (double) CONSTANT * CONSTANT;
    Map<String, InputStatistics> statistics = Map.of(consumer, new InputStatistics(channels, n, sums, squares, null));

    int[] kept = java.util.stream.IntStream.range(0, channels).filter(c -> c != CHANNEL).toArray();
    ChannelSelection selection = ChannelSelection.of(Map.of(group.id(), kept));
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    assertEquals(Map.of(), compensation.blocked());
    Map<String, WeightTensor> biases = compensation.biases(structure.groups(), selection, model.weights(), statistics);
    assertEquals(1, biases.size(), biases.keySet().toString());

    float[] input = ModelOutputs.random(64 * 4, 11);
    long[] inputShape = {64, 4};
    float[] dense = ModelOutputs.run(file, input, inputShape);
    String compensatedFile = dir.resolve("compensated.onnx").toString();
    BiasCompensation.shrink(structure, selection, biases).writeOnnx(compensatedFile, CONF);
    String plainFile = dir.resolve("plain.onnx").toString();
    ModelShrinker.shrink(structure, selection).writeOnnx(plainFile, CONF);
    double compensated = ModelOutputs.maxDifference(dense, ModelOutputs.run(compensatedFile, input, inputShape));
    double plain = ModelOutputs.maxDifference(dense, ModelOutputs.run(plainFile, input, inputShape));
    assertTrue(compensated <= 1e-5, "compensated outputs differ from dense by " + compensated);
    assertTrue(plain > 1e-2, "without compensation the outputs move (by " + plain + ")");
  }
}
