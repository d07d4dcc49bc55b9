package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Safetensors;
import dev.lopper.fixtures.SampleData;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  private static final String CNN = SampleData.path("digits-cnn.onnx");
  private static final String CNN_WEIGHTS = SampleData.path("digits-cnn.safetensors");

  @Test
  void keepsStateDictNamesAndWeightsOfTheTorchExport() {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(CNN), conf);
    Safetensors.File stateDict = Safetensors.open(CNN_WEIGHTS, conf);
    int compared = 0;
    for (Safetensors.Entry e : stateDict.entries().values()) {
      if (!e.dtype().equals("F32")) {
        continue;
      }
      WeightTensor fromOnnx = model.weight(e.name());
      assertArrayEquals(stateDict.readFloat(e.name()).toArray(), fromOnnx.toArray(), e.name());
      compared++;
    }
    assertTrue(compared >= 10, "compared " + compared + " state-dict tensors");
    assertEquals(1, model.inputs().size());
    assertArrayEquals(new long[] {-1, 1, 8, 8}, model.inputs().get(0).dims());
    assertArrayEquals(new long[] {-1, 10}, model.outputs().get(0).dims());
  }

  @Test
  void readsExternalDataFilesBesideTheModel() {
    OnnxModel embedded = OnnxModel.load(ModelSource.onnx(CNN), conf);
    OnnxModel external = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn-external/model.onnx")), conf);
    assertEquals(embedded.weights().keySet(), external.weights().keySet());
    for (String name : embedded.weights().keySet()) {
      assertArrayEquals(embedded.weight(name).toArray(), external.weight(name).toArray(), name);
    }
  }

  /**
   * Models over protobuf's 2 GiB keep their weights in external data files of that size: a tensor
   * may sit past the 2^31st byte. The sample's data file is written after a hole of 2 GiB + 4 KiB (a
   * sparse file: nothing is stored for the hole) and every offset in the graph moved by as much.
   */
  @Test
  void readsTensorsPastTheTwoGibibyteMarkOfTheirDataFile() throws Exception {
    long hole = (1L << 31) + 4096;
    Path source = Path.of(SampleData.path("digits-cnn-external"));
    Onnx.ModelProto graph = Onnx.ModelProto.parseFrom(Files.readAllBytes(source.resolve("model.onnx")));
    Onnx.ModelProto.Builder moved = graph.toBuilder();
    int tensors = 0;
    for (Onnx.TensorProto.Builder t : moved.getGraphBuilder().getInitializerBuilderList()) {
      for (Onnx.StringStringEntryProto.Builder e : t.getExternalDataBuilderList()) {
        if (e.getKey().equals("offset")) {
          e.setValue(Long.toString(Long.parseLong(e.getValue()) + hole));
          tensors++;
        }
      }
    }
    assertTrue(tensors >= 10, "moved " + tensors + " tensors");
    Path copy = Files.createDirectories(dir.resolve("large"));
    Files.write(copy.resolve("model.onnx"), moved.build().toByteArray());
    try (FileChannel data = FileChannel.open(copy.resolve("model.onnx.data"), StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
      data.write(ByteBuffer.wrap(Files.readAllBytes(source.resolve("model.onnx.data"))), hole);
    }
    assertTrue(Files.size(copy.resolve("model.onnx.data")) > Integer.MAX_VALUE);

    OnnxModel embedded = OnnxModel.load(ModelSource.onnx(CNN), conf);
    OnnxModel large = OnnxModel.load(ModelSource.onnx(copy.resolve("model.onnx").toString()), conf);
    assertEquals(embedded.weights().keySet(), large.weights().keySet());
    for (String name : embedded.weights().keySet()) {
      assertArrayEquals(embedded.weight(name).toArray(), large.weight(name).toArray(), name);
    }
  }

  @Test
  void safetensorsReplacesInitializersOfTheSameName() throws Exception {
    OnnxModel dense = OnnxModel.load(ModelSource.onnx(CNN), conf);
    float[] values = dense.weight("fc2.weight").toArray();
    Arrays.fill(values, 0.5f);
    Path weights = dir.resolve("w.safetensors");
    Safetensors.write(weights.toString(), conf,
        List.of(Safetensors.Payload.f32(WeightTensor.of("fc2.weight", dense.weight("fc2.weight").shape(), values))), Map.of());
    OnnxModel overridden = OnnxModel.load(new ModelSource(CNN, weights.toString()), conf);
    assertArrayEquals(values, overridden.weight("fc2.weight").toArray());
    assertArrayEquals(dense.weight("fc1.weight").toArray(), overridden.weight("fc1.weight").toArray());
    assertNotEquals(dense.checksum(), overridden.checksum());
  }

  @Test
  void refusesSafetensorsTensorOfAnotherShape() throws Exception {
    Path weights = dir.resolve("w.safetensors");
    Safetensors.write(weights.toString(), conf,
        List.of(Safetensors.Payload.f32(WeightTensor.zeros("conv1.weight", new long[] {8, 1, 3, 4}))), Map.of());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(new ModelSource(CNN, weights.toString()), conf));
    assertTrue(e.getMessage().contains(weights.toString()) && e.getMessage().contains("conv1.weight")
        && e.getMessage().contains("[8, 1, 3, 4]") && e.getMessage().contains("[8, 1, 3, 3]"), e.getMessage());
  }

  @Test
  void refusesNanAndInfiniteWeightsNamingTheTensor() throws Exception {
    OnnxModel dense = OnnxModel.load(ModelSource.onnx(CNN), conf);
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
      float[] values = dense.weight("fc1.weight").toArray();
      values[7] = bad;
      Path weights = dir.resolve("bad.safetensors");
      Safetensors.write(weights.toString(), conf,
          List.of(Safetensors.Payload.f32(WeightTensor.of("fc1.weight", dense.weight("fc1.weight").shape(), values))), Map.of());
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> OnnxModel.load(new ModelSource(CNN, weights.toString()), conf));
      assertTrue(e.getMessage().contains("fc1.weight") && e.getMessage().contains("index 7")
          && e.getMessage().contains(weights.toString()), e.getMessage());
    }
  }

  @Test
  void refusesSafetensorsThatNameNoInitializer() throws Exception {
    Path weights = dir.resolve("other.safetensors");
    Safetensors.write(weights.toString(), conf,
        List.of(Safetensors.Payload.f32(WeightTensor.zeros("onnx::Conv_37", new long[] {2, 2}))), Map.of());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(new ModelSource(CNN, weights.toString()), conf));
    assertTrue(e.getMessage().contains("do_constant_folding=False"), e.getMessage());
  }

  @Test
  void refusesTruncatedModelsAtEveryCut() throws Exception {
    byte[] bytes = Files.readAllBytes(Path.of(CNN));
    List<Integer> cuts = new ArrayList<>(List.of(0, 1, 7, 100, bytes.length / 3, bytes.length / 2, bytes.length - 5));
    for (int cut : cuts) {
      Path truncated = dir.resolve("cut-" + cut + ".onnx");
      Files.write(truncated, Arrays.copyOf(bytes, cut));
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> OnnxModel.load(ModelSource.onnx(truncated.toString()), conf), "cut at " + cut);
      assertTrue(e.getMessage().startsWith(truncated.toString()), e.getMessage());
    }
  }

  @Test
  void refusesFilesThatAreNotOnnx() throws Exception {
    Path text = dir.resolve("notes.onnx");
    Files.writeString(text, "model: resnet50\nweights: somewhere else\n");
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(ModelSource.onnx(text.toString()), conf));
    assertTrue(e.getMessage().contains(text.toString()) && e.getMessage().contains("not an ONNX model"), e.getMessage());

    InvalidInputException missing = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(ModelSource.onnx(dir.resolve("absent.onnx").toString()), conf));
    assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
  }

  @Test
  void refusesExternalDataThatRunsPastItsFile() throws Exception {
    Path copy = dir.resolve("ext");
    Files.createDirectories(copy);
    Path source = Path.of(SampleData.path("digits-cnn-external"));
    Files.copy(source.resolve("model.onnx"), copy.resolve("model.onnx"));
    byte[] data = Files.readAllBytes(source.resolve("model.onnx.data"));
    Files.write(copy.resolve("model.onnx.data"), Arrays.copyOf(data, data.length / 2));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(ModelSource.onnx(copy.resolve("model.onnx").toString()), conf));
    assertTrue(e.getMessage().contains("model.onnx.data") && e.getMessage().contains("past the end"), e.getMessage());

    Files.delete(copy.resolve("model.onnx.data"));
    InvalidInputException gone = assertThrows(InvalidInputException.class,
        () -> OnnxModel.load(ModelSource.onnx(copy.resolve("model.onnx").toString()), conf));
    assertTrue(gone.getMessage().contains("model.onnx.data"), gone.getMessage());
  }

  @Test
  void readsThroughHadoopFileSystemUris() {
    OnnxModel plain = OnnxModel.load(new ModelSource(CNN, CNN_WEIGHTS), conf);
    OnnxModel uri = OnnxModel.load(new ModelSource(Path.of(CNN).toUri().toString(),
        "file://" + Path.of(CNN_WEIGHTS).toAbsolutePath()), conf);
    assertTrue(uri.source().onnxPath().startsWith("file:"));
    assertEquals(plain.checksum(), uri.checksum());
    assertArrayEquals(plain.weight("conv2.weight").toArray(), uri.weight("conv2.weight").toArray());
    OnnxModel external = OnnxModel.load(ModelSource.onnx(
        Path.of(SampleData.path("digits-cnn-external/model.onnx")).toUri().toString()), conf);
    assertArrayEquals(plain.weight("fc1.weight").toArray(), external.weight("fc1.weight").toArray());
  }

  @Test
  void checksumDependsOnTheBytesNotThePath() throws Exception {
    Path copy = dir.resolve("copy.onnx");
    Files.copy(Path.of(CNN), copy, StandardCopyOption.REPLACE_EXISTING);
    assertEquals(OnnxModel.load(ModelSource.onnx(CNN), conf).checksum(),
        OnnxModel.load(ModelSource.onnx(copy.toString()), conf).checksum());
  }
}
