package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.Table;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** Parameter and multiply-accumulate counts against the numbers worked out by hand below. */
class ModelCostTest {

  private static OnnxModel sample(String name) {
    return OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), new Configuration());
  }

  @Test
  void countsTheDenseCnnByHand() {
    ModelCost cost = ModelCost.of(sample("digits-cnn"));
    // conv1 8·1·3·3 + 8, bn1 4·8, conv2 16·8·3·3 + 16, bn2 4·16, fc1 32·256 + 32, fc2 10·32 + 10
    assertEquals(72 + 8 + 32 + 1152 + 16 + 64 + 8192 + 32 + 320 + 10, cost.parameters());
    // conv1 8·1·9 per position × 8·8 positions, conv2 16·8·9 × 64, fc1 256·32, fc2 32·10
    assertEquals(8 * 9 * 64 + 16 * 8 * 9 * 64 + 256 * 32 + 32 * 10, cost.macs());
    assertTrue(cost.complete());
  }

  @Test
  void countsTheShrunkCnnByHandAndComparesPerNode() {
    ModelStructure cnn = ModelStructure.analyse(sample("digits-cnn"));
    ShrunkModel half = ModelShrinker.shrink(cnn, ModelShrinkerTest.firstHalf(cnn));
    ModelCost cost = half.cost();
    // conv1 4·1·9 + 4, bn1 4·4, conv2 8·4·9 + 8, bn2 4·8, fc1 16·128 + 16, fc2 10·16 + 10
    long parameters = 36 + 4 + 16 + 288 + 8 + 32 + 2048 + 16 + 160 + 10;
    assertEquals(parameters, cost.parameters());
    long conv1 = 4 * 9 * 64;
    long conv2 = 8 * 4 * 9 * 64;
    assertEquals(conv1 + conv2 + 128 * 16 + 16 * 10, cost.macs());

    Table table = ModelCost.compare(ModelCost.of(cnn.model()), cost);
    assertEquals(List.of("node", "op", "parameters_dense", "parameters_pruned", "macs_dense", "macs_pruned"),
        table.columns().stream().map(Table.Column::name).toList());
    assertEquals(List.of("/conv1/Conv", "Conv", 80L, 40L, 4608L, conv1), table.rows().get(0));
    assertEquals(List.of("/bn1/BatchNormalization", "BatchNormalization", 32L, 16L, 0L, 0L), table.rows().get(1));
    assertEquals(List.of("/conv2/Conv", "Conv", 1168L, 296L, 73728L, conv2), table.rows().get(2));
    List<Object> total = table.rows().get(table.rows().size() - 1);
    assertEquals(List.of("(total)", "", 9898L, parameters, 86848L, 22944L), total);
  }

  @Test
  void countsTheResidualModelByHand() {
    ModelCost cost = ModelCost.of(sample("digits-resnet"));
    // conv1 16·1·9 × 64, conv2 and conv3 16·16·9 × 64, fc 256·10
    assertEquals(16 * 9 * 64 + 2 * 16 * 16 * 9 * 64 + 256 * 10, cost.macs());
    // conv1 144 + 16, three batch norms 3·64, conv2 and conv3 2304 + 16 each, fc 2560 + 10
    assertEquals(160 + 192 + 2 * 2320 + 2570, cost.parameters());
  }

  @Test
  void countsTheSampleLmsMatMulsByHandAtASequenceLength() {
    // data/tiny-lm.onnx: 2 blocks of width 64, 4 heads of 16, MLP 256, vocabulary 256. Per row of S
    // tokens and block: q, k, v and output projections 4 x S x 64 x 64; scores Q K^T 4 heads x S x S
    // x 16 and their weighted sum of V as many; up and down S x 64 x 256 each. Then the LM head S x
    // 64 x 256. Embeddings (Gather), LayerNorms, softmax and GELU are not counted.
    OnnxModel lm = TransformerModels.tinyLm();
    for (long s : new long[] {16, 64}) {
      long block = 4 * s * 64 * 64 + 2 * 4 * s * s * 16 + 2 * s * 64 * 256;
      long expected = 2 * block + s * 64 * 256;
      ModelCost cost = ModelCost.of(lm.graph(), s);
      assertTrue(cost.complete(), cost.nodes().toString());
      assertEquals(expected, cost.macs(), "S=" + s);
      // Attention's two products: the MatMuls that multiply no weight (an initializer or a value
      // computed from initializers alone, such as a transposed weight), S x S x 16 per head each.
      java.util.Set<String> weights = new java.util.HashSet<>(lm.weights().keySet());
      lm.graph().getGraph().getInitializerList().forEach(t -> weights.add(t.getName()));
      List<onnx.Onnx.NodeProto> graphNodes = lm.graph().getGraph().getNodeList();
      long activationMatMuls = 0;
      for (int n = 0; n < graphNodes.size(); n++) {
        onnx.Onnx.NodeProto node = graphNodes.get(n);
        if (node.getInputCount() > 0 && node.getInputList().stream().allMatch(weights::contains)) {
          weights.addAll(node.getOutputList());
        }
        if (node.getOpType().equals("MatMul") && node.getInputList().stream().noneMatch(weights::contains)) {
          activationMatMuls += cost.nodes().get(n).macs();
        }
      }
      assertEquals(2 * 2 * 4 * s * s * 16, activationMatMuls, "S=" + s);
    }
    assertEquals(ModelCost.of(lm.graph(), ModelCost.DEFAULT_SEQUENCE).macs(), ModelCost.of(lm).macs());
  }
}
