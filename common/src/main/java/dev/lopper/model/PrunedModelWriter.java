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
    Map<String, WeightTensor> weights = merged(model, replacements);
    long total = weights.values().stream().mapToLong(w -> (long) w.size() * Float.BYTES).sum();
    boolean external = total > embedLimit;
    String dataName = new Path(path).getName() + ".data";
    String dataPath = new Path(new Path(path).getParent(), dataName).toString();

    Onnx.GraphProto.Builder graph = model.graph().getGraph().toBuilder().clearInitializer();
    long offset = 0;
    List<WeightTensor> externalOrder = new ArrayList<>();
    for (Onnx.TensorProto header : model.graph().getGraph().getInitializerList()) {
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
    graph.clearInput().addAllInput(model.originalInputs());
    byte[] bytes = model.graph().toBuilder().setGraph(graph).build().toByteArray();
    if (external) {
      HadoopFiles.writeAtomically(dataPath, conf, out -> {
        for (WeightTensor w : externalOrder) {
          out.write(littleEndian(w).array());
        }
      });
    }
    HadoopFiles.writeAtomically(path, conf, out -> out.write(bytes));
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
