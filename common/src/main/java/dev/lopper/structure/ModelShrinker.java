package dev.lopper.structure;

import dev.lopper.InvalidInputException;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import onnx.Onnx;

/**
 * Removes channels physically: from a model, its {@link ModelStructure} and the channels to keep,
 * a model in which every member tensor of the selected groups is sliced (producers' filters or
 * rows, biases, normalisation parameters, depthwise filters, consumers' input channels and the
 * H×W columns per channel of a Gemm after Flatten), a depthwise Conv's {@code group} follows its
 * new channel count, and the stale {@code value_info} shapes are dropped.
 *
 * <p>The result computes what the masked model ({@link ChannelSelection#masks}) computes, up to
 * floating-point summation order. Before returning, the shrinker infers the new graph's shapes
 * (checking every Conv, BatchNormalization, Gemm, MatMul, broadcast and Concat on the way) and
 * compares the graph outputs' shapes with the dense model's: a model it cannot vouch for is never
 * returned.
 *
 * <pre>{@code
 * ShrunkModel small = ModelShrinker.shrink(structure, selection);
 * small.writeOnnx("hdfs:///runs/r1/model-shrunk.onnx", conf);
 * Table sizes = ModelCost.compare(ModelCost.of(model), small.cost());
 * }</pre>
 */
public final class ModelShrinker {
  private ModelShrinker() {}

  /**
   * The model of {@code structure} with only the {@code selection}'s channels left in its groups.
   *
   * @throws InvalidInputException when a selected group is not prunable or would keep no channel
   * @throws IllegalStateException when the shrunk graph's shapes do not check out (a bug)
   */
  public static ShrunkModel shrink(ModelStructure structure, ChannelSelection selection) {
    for (int g : selection.groups()) {
      if (selection.kept(g).orElseThrow().length == 0) {
        ChannelGroup group = structure.group(g);
        throw new InvalidInputException("channel group " + g + " (" + group.name()
            + ") would keep none of its " + group.channels() + " channels; keep at least one");
      }
    }
    Map<String, TensorSlice> slices = selection.slices(structure.groups(), structure.tensorShapes());
    Map<ChannelGroup.ShapeEdit, Long> edits = new LinkedHashMap<>();
    for (int g : selection.groups()) {
      ChannelGroup group = structure.group(g);
      long removed = group.channels() - selection.kept(g).orElseThrow().length;
      if (removed > 0) {
        group.shapeEdits().forEach(e -> edits.put(e, removed));
      }
    }
    ShrunkModel shrunk = apply(structure.model(), slices, edits);
    verify(structure.model(), shrunk, structure.sequence());
    return shrunk;
  }

  /**
   * Slices the tensors as {@code slices} say, without asking whether the result makes sense: for
   * tests that show what goes wrong when a group is cut apart.
   */
  static ShrunkModel apply(OnnxModel model, Map<String, TensorSlice> slices) {
    return apply(model, slices, Map.of());
  }

  /**
   * Slices the tensors and rewrites the shape entries that count removed channels: each edited
   * input gets a new INT64 initializer of its own (named after the node and input), so a head count
   * constant shared by several layers is changed only where this group reads it.
   */
  static ShrunkModel apply(OnnxModel model, Map<String, TensorSlice> slices,
      Map<ChannelGroup.ShapeEdit, Long> edits) {
    Map<String, WeightTensor> weights = new LinkedHashMap<>();
    for (WeightTensor w : model.weights().values()) {
      TensorSlice slice = slices.get(w.name());
      weights.put(w.name(), slice == null || slice.isFull() ? w : slice.apply(w));
    }
    Onnx.GraphProto.Builder graph = model.graph().getGraph().toBuilder().clearValueInfo();
    for (int i = 0; i < graph.getInitializerCount(); i++) {
      Onnx.TensorProto header = graph.getInitializer(i);
      WeightTensor w = weights.get(header.getName());
      if (w == null || header.getDataType() != Onnx.TensorProto.DataType.FLOAT_VALUE) {
        continue;
      }
      Onnx.TensorProto.Builder b = header.toBuilder().clearDims();
      Arrays.stream(w.shape()).forEach(b::addDims);
      for (int e = 0; e < b.getExternalDataCount(); e++) {
        if (b.getExternalData(e).getKey().equals("length")) {
          b.setExternalData(e, b.getExternalData(e).toBuilder()
              .setValue(Long.toString((long) w.size() * Float.BYTES)));
        }
      }
      graph.setInitializer(i, b);
    }
    for (int n = 0; n < graph.getNodeCount(); n++) {
      Onnx.NodeProto node = graph.getNode(n);
      long group = NodeAttributes.integer(node, "group", 1);
      String weight = NodeAttributes.input(node, 1);
      if (!node.getOpType().equals("Conv") || group <= 1 || !slices.containsKey(weight)) {
        continue;
      }
      long[] dense = model.weight(weight).shape();
      long channels = weights.get(weight).shape()[0];
      if (dense[0] == group && dense[1] == 1 && channels != group) {
        // A depthwise convolution keeps one group per channel.
        Onnx.NodeProto.Builder b = node.toBuilder();
        for (int a = 0; a < b.getAttributeCount(); a++) {
          if (b.getAttribute(a).getName().equals("group")) {
            b.setAttribute(a, b.getAttribute(a).toBuilder().setI(channels));
          }
        }
        graph.setNode(n, b);
      }
    }
    // Edits of one input (two groups' channels in one shape) are applied to one new constant.
    Map<String, long[]> edited = new LinkedHashMap<>();
    Map<String, ChannelGroup.ShapeEdit> firstEdit = new LinkedHashMap<>();
    for (Map.Entry<ChannelGroup.ShapeEdit, Long> e : edits.entrySet()) {
      ChannelGroup.ShapeEdit edit = e.getKey();
      String key = edit.node() + "#" + edit.input();
      long[] values = edited.computeIfAbsent(key, k -> edit.values());
      values[edit.position()] -= e.getValue() * edit.unit();
      firstEdit.putIfAbsent(key, edit);
    }
    edited.forEach((key, values) -> editShape(graph, firstEdit.get(key), values));
    Onnx.ModelProto.Builder proto = model.graph().toBuilder().setGraph(graph);
    if (proto.getIrVersion() < 4) {
      proto.setIrVersion(4); // initializers need not be listed as inputs from IR 4 on
    }
    return new ShrunkModel(model, proto.build(), weights, slices);
  }

  private static void editShape(Onnx.GraphProto.Builder graph, ChannelGroup.ShapeEdit edit, long[] values) {
    for (int n = 0; n < graph.getNodeCount(); n++) {
      Onnx.NodeProto node = graph.getNode(n);
      if (!NodeAttributes.nodeName(node).equals(edit.node())) {
        continue;
      }
      String name = edit.node() + "/lopper_shape_" + edit.input();
      Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name)
          .setDataType(Onnx.TensorProto.DataType.INT64_VALUE).addDims(edit.values().length);
      Arrays.stream(values).forEach(t::addInt64Data);
      graph.addInitializer(t);
      graph.setNode(n, node.toBuilder().setInput(edit.input(), name));
      return;
    }
    throw new IllegalStateException("node " + edit.node() + " of a shape edit is not in the graph");
  }

  private static void verify(OnnxModel model, ShrunkModel shrunk, long sequence) {
    Map<String, long[]> after;
    try {
      after = ShapeInference.infer(shrunk.graph().getGraph(), 1, sequence);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(model.source().onnxPath() + ": the shrunk model's shapes are"
          + " inconsistent, so it was not produced: " + e.getMessage(), e);
    }
    Map<String, long[]> before = ShapeInference.infer(model.graph().getGraph(), 1, sequence);
    for (Onnx.ValueInfoProto output : model.graph().getGraph().getOutputList()) {
      long[] b = before.get(output.getName());
      long[] a = after.get(output.getName());
      if (b != null && !Arrays.equals(a, b)) {
        throw new IllegalStateException(model.source().onnxPath() + ": shrinking changed graph"
            + " output " + output.getName() + " from " + Arrays.toString(b) + " to "
            + Arrays.toString(a) + ", so the model was not produced");
      }
    }
  }
}
