package dev.lopper.structure;

import dev.lopper.io.Safetensors;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;

/**
 * A model with channels physically removed, as {@link ModelShrinker} makes it: the new graph (its
 * float initializers as headers without data, like {@link OnnxModel#graph()}), the new weights and
 * the slices they were cut with.
 */
public final class ShrunkModel {
  private final OnnxModel dense;
  private final Onnx.ModelProto graph;
  private final Map<String, WeightTensor> weights;
  private final Map<String, TensorSlice> slices;

  ShrunkModel(OnnxModel dense, Onnx.ModelProto graph, Map<String, WeightTensor> weights,
      Map<String, TensorSlice> slices) {
    this.dense = dense;
    this.graph = graph;
    this.weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights));
    this.slices = Collections.unmodifiableMap(new LinkedHashMap<>(slices));
  }

  /** The dense model it was cut from. */
  public OnnxModel dense() {
    return dense;
  }

  /** The shrunk graph; float initializers are headers whose data is in {@link #weights()}. */
  public Onnx.ModelProto graph() {
    return graph;
  }

  /** Every float weight, shrunk or unchanged, by name in graph order. */
  public Map<String, WeightTensor> weights() {
    return weights;
  }

  /** How each changed tensor was cut, by name. */
  public Map<String, TensorSlice> slices() {
    return slices;
  }

  /** Parameters and multiply-accumulates of the shrunk model. */
  public ModelCost cost() {
    return ModelCost.of(graph);
  }

  /**
   * The ONNX file {@link #writeOnnx} would write, in memory with every weight embedded (what a
   * latency probe opens).
   *
   * @throws IllegalArgumentException when the weights are too large to embed
   */
  public byte[] onnxBytes() {
    return PrunedModelWriter.embeddedOnnx(graph, weights);
  }

  /** Writes the model as ONNX (atomically; weights embedded below 1.8 GB, else beside it). */
  public void writeOnnx(String path, Configuration conf) {
    PrunedModelWriter.writeOnnx(graph, weights, path, conf);
  }

  /** Writes the shrunk weights as safetensors F32, by initializer name. */
  public void writeSafetensors(String path, Configuration conf) {
    List<Safetensors.Payload> payloads = new ArrayList<>();
    for (WeightTensor w : weights.values()) {
      payloads.add(Safetensors.Payload.f32(w));
    }
    Safetensors.write(path, conf, payloads, Map.of("format", "pt", "producer", "lopper"));
  }

  @Override
  public String toString() {
    return "ShrunkModel[" + dense + ", " + slices.size() + " tensors cut]";
  }
}
