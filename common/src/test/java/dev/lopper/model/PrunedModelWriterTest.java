package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lopper.io.Safetensors;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.SampleData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrunedModelWriterTest {
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  private final OnnxModel cnn = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), conf);

  private WeightTensor halved(String name) {
    float[] v = cnn.weight(name).toArray();
    for (int i = 0; i < v.length; i += 2) {
      v[i] = 0f;
    }
    return WeightTensor.of(name, cnn.weight(name).shape(), v);
  }

  @Test
  void writtenOnnxReloadsWithTheReplacedWeights() {
    Map<String, WeightTensor> replacements = Map.of("conv2.weight", halved("conv2.weight"), "fc1.weight", halved("fc1.weight"));
    String out = dir.resolve("pruned.onnx").toString();
    PrunedModelWriter.writeOnnx(cnn, replacements, out, conf);
    OnnxModel back = OnnxModel.load(ModelSource.onnx(out), conf);
    assertEquals(cnn.weights().keySet(), back.weights().keySet());
    for (String name : cnn.weights().keySet()) {
      float[] expected = replacements.containsKey(name) ? replacements.get(name).toArray() : cnn.weight(name).toArray();
      assertArrayEquals(expected, back.weight(name).toArray(), name);
    }
    assertEquals(cnn.nodes(), back.nodes());
  }

  @Test
  void largeModelsGoToAnExternalDataFile() throws Exception {
    String out = dir.resolve("big.onnx").toString();
    PrunedModelWriter.writeOnnx(cnn, Map.of("fc2.weight", halved("fc2.weight")), out, conf, 0);
    assertTrue(Files.size(dir.resolve("big.onnx.data")) > Files.size(dir.resolve("big.onnx")));
    OnnxModel back = OnnxModel.load(ModelSource.onnx(out), conf);
    assertArrayEquals(halved("fc2.weight").toArray(), back.weight("fc2.weight").toArray());
    assertArrayEquals(cnn.weight("conv1.weight").toArray(), back.weight("conv1.weight").toArray());
  }

  @Test
  void onnxBytesIsTheSizeOfTheFileWritten() throws Exception {
    String out = dir.resolve("sized.onnx").toString();
    PrunedModelWriter.writeOnnx(cnn.graph(), cnn.weights(), out, conf);
    assertEquals(Files.size(dir.resolve("sized.onnx")), PrunedModelWriter.onnxBytes(cnn.graph(), cnn.weights()));
    // 9 898 float weights, 4 bytes each, are most of it
    assertTrue(Files.size(dir.resolve("sized.onnx")) > 9898 * 4);
  }

  @Test
  void safetensorsHoldEveryWeightUnderItsStateDictName() {
    String out = dir.resolve("pruned.safetensors").toString();
    PrunedModelWriter.writeSafetensors(cnn, Map.of("fc1.weight", halved("fc1.weight")), out, conf);
    Safetensors.File file = Safetensors.open(out, conf);
    assertEquals(cnn.weights().keySet(), file.entries().keySet());
    assertArrayEquals(halved("fc1.weight").toArray(), file.readFloat("fc1.weight").toArray());
    assertArrayEquals(cnn.weight("bn1.running_var").toArray(), file.readFloat("bn1.running_var").toArray());
  }

  @Test
  void onnxCheckerAcceptsWrittenModels() throws Exception {
    assumeTrue(OnnxCheck.available(), "python3 with onnx is not installed");
    String embedded = dir.resolve("pruned.onnx").toString();
    String external = dir.resolve("external.onnx").toString();
    PrunedModelWriter.writeOnnx(cnn, Map.of("conv1.weight", halved("conv1.weight")), embedded, conf);
    PrunedModelWriter.writeOnnx(cnn, Map.of("conv1.weight", halved("conv1.weight")), external, conf, 0);
    for (String file : new String[] {embedded, external}) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(file);
      assertTrue(verdict.valid(), "onnx.checker on " + file + ": " + verdict.line());
    }
  }
}
