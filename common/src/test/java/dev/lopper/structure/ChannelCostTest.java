package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Counting a choice of channel counts without building the model gives the counts of the model
 * {@link ModelShrinker} builds (whose shapes {@link ModelCost} infers from its own graph), and the
 * hand-worked numbers of the sample CNN.
 */
class ChannelCostTest {

  private static ModelStructure sample(String name) {
    return ModelStructure.analyse(OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")),
        new Configuration()));
  }

  @Test
  void countsTheHalvedCnnByHand() {
    ModelStructure cnn = sample("digits-cnn");
    ChannelCost cost = ChannelCost.of(cnn);
    Map<Integer, Long> half = new LinkedHashMap<>();
    cnn.prunableGroups().forEach(g -> half.put(g.id(), g.channels() / 2));
    // The hand counts of ModelCostTest: conv1 4·1·9 + 4, bn1 4·4, conv2 8·4·9 + 8, bn2 4·8,
    // fc1 16·128 + 16, fc2 10·16 + 10; MACs conv1 4·9·64, conv2 8·4·9·64, fc1 128·16, fc2 16·10.
    assertEquals(36 + 4 + 16 + 288 + 8 + 32 + 2048 + 16 + 160 + 10, cost.parameters(half));
    assertEquals(4 * 9 * 64 + 8 * 4 * 9 * 64 + 128 * 16 + 16 * 10, cost.macs(half));
    assertEquals(9898, cost.parameters(Map.of()));
    assertEquals(86848, cost.macs(Map.of()));
    // conv2: 16·8·9 weights, each used at 8·8 output positions
    assertEquals(16 * 8 * 9 * 64, cost.weightMacs("conv2.weight"));
    assertEquals(0, cost.weightMacs("bn2.weight"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn", "digits-resnet"})
  void equalsTheCostOfTheShrunkModel(String name) {
    ModelStructure structure = sample(name);
    ChannelCost cost = ChannelCost.of(structure);
    SplittableRandom random = new SplittableRandom(7);
    for (int trial = 0; trial < 20; trial++) {
      Map<Integer, Long> counts = new LinkedHashMap<>();
      Map<Integer, int[]> kept = new LinkedHashMap<>();
      for (ChannelGroup g : structure.prunableGroups()) {
        if (trial > 0 && random.nextInt(3) == 0) {
          continue;
        }
        int k = 1 + random.nextInt((int) g.channels());
        counts.put(g.id(), (long) k);
        kept.put(g.id(), IntStream.range(0, k).toArray());
      }
      ModelCost shrunk = ModelShrinker.shrink(structure, ChannelSelection.of(kept)).cost();
      assertEquals(shrunk.parameters(), cost.parameters(counts), name + " " + counts);
      assertEquals(shrunk.macs(), cost.macs(counts), name + " " + counts);
    }
  }

  @Test
  void equalsTheShrunkCostOnSmallGraphsWithConcatAndDepthwiseConvolutions(@TempDir Path dir) {
    for (OnnxModel model : List.of(SmallOnnxModels.concat(dir), SmallOnnxModels.depthwise(
        dir), SmallOnnxModels.matMulMlp(dir))) {
      ModelStructure structure = ModelStructure.analyse(model);
      ChannelCost cost = ChannelCost.of(structure);
      Map<Integer, Long> counts = new LinkedHashMap<>();
      Map<Integer, int[]> kept = new LinkedHashMap<>();
      for (ChannelGroup g : structure.prunableGroups()) {
        int k = Math.max(1, (int) g.channels() / 2);
        counts.put(g.id(), (long) k);
        kept.put(g.id(), IntStream.range(0, k).toArray());
      }
      ModelCost shrunk = ModelShrinker.shrink(structure, ChannelSelection.of(kept)).cost();
      assertEquals(shrunk.parameters(), cost.parameters(counts), model.toString());
      assertEquals(shrunk.macs(), cost.macs(counts), model.toString());
    }
  }
}
