package dev.lopper.jobs.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The readable names of the real all-MiniLM-L6-v2 export, whose Linear weights {@code torch.onnx.export}
 * stored transposed under names of its own ({@code onnx::MatMul_787}), against the layers of its
 * Hugging Face BERT encoder: 6 layers of query, key, value, attention output, intermediate and output.
 */
class MiniLmTensorNamesTest {
  private static final Configuration CONF = new Configuration();

  private static List<PrunableTensor> tensors(String onnx) {
    return PrunableTensors.find(OnnxModel.load(ModelSource.onnx(onnx), CONF));
  }

  @Test
  void everyLinearWeightOfMiniLmIsAnonymousAndNamedByItsLayer(@TempDir Path dir) {
    List<PrunableTensor> found = tensors(MiniLm.writeOnnx(dir).toString());
    List<String> layers = new ArrayList<>();
    for (int layer = 0; layer < 6; layer++) {
      for (String linear : List.of("attention/self/query", "attention/self/key", "attention/self/value",
          "attention/output/dense", "intermediate/dense", "output/dense")) {
        layers.add("/encoder/layer." + layer + "/" + linear + "/MatMul");
      }
    }
    assertEquals(layers, found.stream().map(PrunableTensor::readableName).toList());
    assertTrue(found.stream().allMatch(t -> t.name().matches("onnx::MatMul_[0-9]+")), found.toString());
    assertEquals("onnx::MatMul_787", found.get(0).name());
    assertEquals(found.stream().map(PrunableTensor::nodeName).toList(),
        found.stream().map(PrunableTensor::readableName).toList(), "the node that multiplies");
  }

  @Test
  void theSamplesTensorsHaveNamesOfTheirOwn() {
    for (String onnx : List.of("tiny-lm.onnx", "digits-cnn.onnx", "digits-mlp.onnx", "digits-resnet.onnx")) {
      List<PrunableTensor> found = tensors(SampleData.path(onnx));
      assertTrue(!found.isEmpty() && found.stream().allMatch(t -> t.readableName() == null), onnx + ": " + found);
    }
  }
}
