package dev.lopper.model;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.Safetensors;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.nd4j.shade.protobuf.ByteString;

/**
 * Writes a model with some weights replaced (a pruned model) as ONNX, and weights as safetensors,
 * so that ONNX Runtime, {@code onnx.checker} and PyTorch ({@code safetensors.torch.load_file} and
 * {@code load_state_dict}) load them back.
 *
 * <p>The ONNX file embeds every initializer when the weights fit below protobuf's 2 GiB limit (with
 * a margin), and otherwise writes them to one external-data file beside it ({@code <name>.data}),
 * as {@code onnx.save_model(..., save_as_external_data=True)} does. Files are written atomically.
 */
public final class PrunedModelWriter {

  /** Above this many bytes of weights, initializers go to an external-data file. */
  static final long EMBED_LIMIT = 1_800_000_000L;

  private PrunedModelWriter() {}

  /** Writes {@code model} as ONNX with {@code replacements} in place of the dense weights. */
  public static void writeOnnx(OnnxModel model, Map<String, WeightTensor> replacements, String path,
      Configuration conf) {
    writeOnnx(model, replacements, path, conf, EMBED_LIMIT);
  }

  static void writeOnnx(OnnxModel model, Map<String, WeightTensor> replacements, String path,
      Configuration conf, long embedLimit) {
    write(model.graph(), model.originalInputs(), merged(model, replacements), path, conf, embedLimit);
  }

  /**
   * Writes a graph whose float initializers are headers without data (as {@link OnnxModel#graph()}
   * holds them), with the data of each taken from {@code weights}: how a model whose weights
   * changed shape (a structurally pruned one) is written.
   *
   * @throws IllegalArgumentException when a float initializer has no weight of its dims in {@code weights}
   */
  public static void writeOnnx(Onnx.ModelProto graph, Map<String, WeightTensor> weights, String path,
      Configuration conf) {
    for (Onnx.TensorProto header : graph.getGraph().getInitializerList()) {
      if (header.getDataType() != Onnx.TensorProto.DataType.FLOAT_VALUE) {
        continue;
      }
      WeightTensor w = weights.get(header.getName());
      long[] dims = header.getDimsList().stream().mapToLong(Long::longValue).toArray();
      if (w == null || !Arrays.equals(dims, w.shape())) {
        throw new IllegalArgumentException("initializer " + header.getName() + " " + Arrays.toString(dims)
            + " has " + (w == null ? "no weight" : "weight " + Arrays.toString(w.shape())));
      }
    }
    write(graph, graph.getGraph().getInputList(), weights, path, conf, EMBED_LIMIT);
  }

  /**
   * The bytes {@link #writeOnnx(Onnx.ModelProto, Map, String, Configuration)} writes for this graph
   * and these weights (the ONNX file, plus its external-data file when the weights go there), without
   * writing anything: the size of a model file to compare another with.
   */
  public static long onnxBytes(Onnx.ModelProto graph, Map<String, WeightTensor> weights) {
    Serialized s = serialize(graph, graph.getGraph().getInputList(), weights, "model.onnx.data", EMBED_LIMIT);
    long external = s.external().stream().mapToLong(w -> (long) w.size() * Float.BYTES).sum();
    return s.onnx().length + external;
  }

  /**
   * The ONNX file {@link #writeOnnx(Onnx.ModelProto, Map, String, Configuration)} writes for this
   * graph and these weights, as bytes with every weight embedded: a model to open in memory (an ONNX
   * Runtime session from bytes) the way a user would load the written file.
   *
   * @throws IllegalArgumentException when the weights are too large to embed (above 1.8 GB)
   */
  public static byte[] embeddedOnnx(Onnx.ModelProto graph, Map<String, WeightTensor> weights) {
    Serialized s = serialize(graph, graph.getGraph().getInputList(), weights, "model.onnx.data", EMBED_LIMIT);
    if (!s.external().isEmpty()) {
      throw new IllegalArgumentException("the weights (" + s.external().size() + " tensors) are above "
          + EMBED_LIMIT + " bytes and cannot be embedded in one ONNX file");
    }
    return s.onnx();
  }

  /** An ONNX file's bytes and the weights, in order, of its external-data file (none when embedded). */
  private record Serialized(byte[] onnx, List<WeightTensor> external) {}

  private static void write(Onnx.ModelProto graphOnly, List<Onnx.ValueInfoProto> inputs,
      Map<String, WeightTensor> weights, String path, Configuration conf, long embedLimit) {
    String dataName = new Path(path).getName() + ".data";
    String dataPath = new Path(new Path(path).getParent(), dataName).toString();
    Serialized s = serialize(graphOnly, inputs, weights, dataName, embedLimit);
    if (!s.external().isEmpty()) {
      HadoopFiles.writeAtomically(dataPath, conf, out -> {
        for (WeightTensor w : s.external()) {
          out.write(littleEndian(w).array());
        }
      });
    }
    HadoopFiles.writeAtomically(path, conf, out -> out.write(s.onnx()));
  }

  private static Serialized serialize(Onnx.ModelProto graphOnly, List<Onnx.ValueInfoProto> inputs,
      Map<String, WeightTensor> weights, String dataName, long embedLimit) {
    long total = weights.values().stream().mapToLong(w -> (long) w.size() * Float.BYTES).sum();
    boolean external = total > embedLimit;
    Onnx.GraphProto.Builder graph = graphOnly.getGraph().toBuilder().clearInitializer();
    long offset = 0;
    List<WeightTensor> externalOrder = new ArrayList<>();
    for (Onnx.TensorProto header : graphOnly.getGraph().getInitializerList()) {
      WeightTensor w = weights.get(header.getName());
      if (w == null) {
        graph.addInitializer(header);
        continue;
      }
      Onnx.TensorProto.Builder t = header.toBuilder().clearExternalData().clearRawData().clearFloatData();
      if (external) {
        long length = (long) w.size() * Float.BYTES;
        t.setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
            .addExternalData(OnnxModel.entry("location", dataName))
            .addExternalData(OnnxModel.entry("offset", Long.toString(offset)))
            .addExternalData(OnnxModel.entry("length", Long.toString(length)));
        offset += length;
        externalOrder.add(w);
      } else {
        t.setDataLocation(Onnx.TensorProto.DataLocation.DEFAULT).setRawData(ByteString.copyFrom(littleEndian(w)));
      }
      graph.addInitializer(t);
    }
    graph.clearInput().addAllInput(inputs);
    return new Serialized(graphOnly.toBuilder().setGraph(graph).build().toByteArray(), externalOrder);
  }

  /** Writes every float weight of {@code model}, with {@code replacements}, as safetensors F32. */
  public static void writeSafetensors(OnnxModel model, Map<String, WeightTensor> replacements, String path,
      Configuration conf) {
    List<Safetensors.Payload> payloads = new ArrayList<>();
    for (WeightTensor w : merged(model, replacements).values()) {
      payloads.add(Safetensors.Payload.f32(w));
    }
    Safetensors.write(path, conf, payloads, Map.of("format", "pt", "producer", "lopper"));
  }

  private static Map<String, WeightTensor> merged(OnnxModel model, Map<String, WeightTensor> replacements) {
    Map<String, WeightTensor> weights = new LinkedHashMap<>(model.weights());
    for (Map.Entry<String, WeightTensor> e : replacements.entrySet()) {
      WeightTensor dense = weights.get(e.getKey());
      if (dense == null) {
        throw new InvalidInputException(model.source().onnxPath() + ": no float initializer named "
            + e.getKey() + " to replace");
      }
      if (!Arrays.equals(dense.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException("replacement for " + e.getKey() + " has shape "
            + Arrays.toString(e.getValue().shape()) + ", the model's has " + Arrays.toString(dense.shape()));
      }
      weights.put(e.getKey(), e.getValue());
    }
    return weights;
  }

  private static ByteBuffer littleEndian(WeightTensor w) {
    return Safetensors.Payload.f32(w).data();
  }
}
