package dev.lopper.structure;

import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * A model's parameters and multiply-accumulates as functions of how many channels each channel
 * group keeps, computed from the dense {@link ModelCost} without building the smaller model: what
 * an allocation needs to count a choice of per-group sparsities many times over.
 *
 * <p>Removing channels only shortens member tensors along their group axes, so a tensor keeps
 * {@code prod over axes (dim - sum over its members on that axis of removed channels x block)}
 * elements. The multiply-accumulates of a Conv, Gemm or MatMul node are its weight operand's
 * elements times a number of positions that channel pruning does not change (output pixels, batch
 * rows), so they scale with the weight's elements. Both counts equal {@link ModelCost#of} of the
 * model {@link ModelShrinker} builds from the same channel counts (tested on the samples).
 *
 * <pre>{@code
 * ChannelCost cost = ChannelCost.of(structure);
 * long dense = cost.dense().macs();
 * long half = cost.macs(Map.of(group.id(), group.channels() / 2));
 * }</pre>
 */
public final class ChannelCost {
  private static final Set<String> WEIGHT_OPS = Set.of("Conv", "Gemm", "MatMul");

  private final ModelCost dense;
  private final List<ChannelGroup> groups;
  private final Map<String, long[]> shapes;
  private final Map<String, Long> weightMacs;

  private ChannelCost(ModelCost dense, List<ChannelGroup> groups, Map<String, long[]> shapes,
      Map<String, Long> weightMacs) {
    this.dense = dense;
    this.groups = groups;
    this.shapes = shapes;
    this.weightMacs = Collections.unmodifiableMap(weightMacs);
  }

  /**
   * The cost model of {@code structure}'s model and groups.
   *
   * @throws IllegalArgumentException when the graph's shapes are inconsistent
   */
  public static ChannelCost of(ModelStructure structure) {
    return of(structure.model(), structure.groups());
  }

  /**
   * The cost model of {@code model} with channel groups {@code groups} (indexed by id; may be empty
   * when only {@link #weightMacs} is wanted).
   */
  public static ChannelCost of(OnnxModel model, List<ChannelGroup> groups) {
    ModelCost dense = ModelCost.of(model);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (WeightTensor w : model.weights().values()) {
      shapes.put(w.name(), w.shape());
    }
    Map<String, Long> weightMacs = new LinkedHashMap<>();
    List<Onnx.NodeProto> nodes = model.graph().getGraph().getNodeList();
    for (int n = 0; n < nodes.size(); n++) {
      Onnx.NodeProto node = nodes.get(n);
      long macs = dense.nodes().get(n).macs();
      String weight = NodeAttributes.input(node, 1);
      if (WEIGHT_OPS.contains(node.getOpType()) && macs > 0 && shapes.containsKey(weight)) {
        weightMacs.merge(weight, macs, Long::sum);
      }
    }
    return new ChannelCost(dense, List.copyOf(groups), shapes, weightMacs);
  }

  /** The dense model's cost. */
  public ModelCost dense() {
    return dense;
  }

  /**
   * Multiply-accumulates per sample of the Conv, Gemm and MatMul nodes that read {@code tensor} as
   * their weight operand (input 1), 0 for a tensor no such node reads: what pruning every element
   * of it would save in a kernel that skips zero weights.
   */
  public long weightMacs(String tensor) {
    return weightMacs.getOrDefault(tensor, 0L);
  }

  /**
   * Elements of {@code tensor} when each group of {@code kept} (id to kept channel count) keeps
   * that many channels and the other groups keep all of theirs.
   */
  public long elements(String tensor, Map<Integer, Long> kept) {
    long[] shape = shapes.get(tensor);
    if (shape == null) {
      throw new IllegalArgumentException("no float weight named " + tensor);
    }
    long[] dims = shape.clone();
    for (Map.Entry<Integer, Long> e : kept.entrySet()) {
      ChannelGroup group = group(e.getKey());
      long removed = removed(group, e.getValue());
      for (ChannelGroup.Member m : group.members()) {
        if (m.tensor().equals(tensor)) {
          dims[m.axis()] -= removed * m.block();
        }
      }
    }
    long elements = 1;
    for (long d : dims) {
      elements = Math.multiplyExact(elements, Math.max(0, d));
    }
    return elements;
  }

  /** Parameters of the model when each group of {@code kept} keeps that many channels. */
  public long parameters(Map<Integer, Long> kept) {
    long parameters = dense.parameters();
    for (String tensor : touched(kept)) {
      parameters -= elementCount(tensor) - elements(tensor, kept);
    }
    return parameters;
  }

  /** Multiply-accumulates per sample when each group of {@code kept} keeps that many channels. */
  public long macs(Map<Integer, Long> kept) {
    long macs = dense.macs();
    for (String tensor : touched(kept)) {
      long full = weightMacs(tensor);
      if (full > 0) {
        long all = elementCount(tensor);
        macs -= full - Math.multiplyExact(full, elements(tensor, kept)) / all;
      }
    }
    return macs;
  }

  private Set<String> touched(Map<Integer, Long> kept) {
    Set<String> tensors = new LinkedHashSet<>();
    for (int id : kept.keySet()) {
      group(id).members().forEach(m -> tensors.add(m.tensor()));
    }
    return tensors;
  }

  private long elementCount(String tensor) {
    long n = 1;
    for (long d : shapes.get(tensor)) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private static long removed(ChannelGroup group, long kept) {
    if (kept < 0 || kept > group.channels()) {
      throw new IllegalArgumentException("channel group " + group.id() + " (" + group.name() + ") has "
          + group.channels() + " channels; cannot keep " + kept);
    }
    return group.channels() - kept;
  }

  private ChannelGroup group(int id) {
    if (id >= 0 && id < groups.size() && groups.get(id).id() == id) {
      return groups.get(id);
    }
    return groups.stream().filter(g -> g.id() == id).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no channel group " + id + " among " + groups.size()));
  }
}
