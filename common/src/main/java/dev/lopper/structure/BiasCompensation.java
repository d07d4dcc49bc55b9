package dev.lopper.structure;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import onnx.Onnx;

/**
 * FLAP's bias compensation on channel groups: when channels are removed, their mean contribution to
 * each consumer is added to the consumer's bias, {@code b' = b + W[:, removed] · mean(X[:, removed])}
 * (CASIA-IVA-Lab/FLAP, {@code lib/prune.py} {@code compress}), from the calibration means Σx/n of
 * the consumer's input.
 *
 * <p>Consumers ({@link ChannelGroup.Role#INPUT} members, as matrices of {@link ConsumerColumns}):
 * a Gemm adds to its C (scaled by alpha/beta), a Conv to its B, a MatMul to the float initializer
 * of the one Add that reads its output (either operand), also when the weight is stored {@code [out,
 * in]} and reaches the MatMul through {@code Transpose(perm [1, 0])}, as torch.onnx.export writes
 * a Linear without constant folding. For a Gemm or MatMul this is exact on the mean: the
 * outputs' mean over the calibration samples is unchanged. For a Conv the removed columns are
 * im2col columns (input channel × kernel tap) and their means include the zero padding: the
 * compensation is one constant per output channel, exact for the mean over output positions and
 * approximate at each border position, where the removed channel's padded taps contributed less.
 *
 * <p>A group none of whose consumers can take a compensation (no bias input, a bias that broadcasts
 * or is shared, a consumer reached through anything but a weight's own Transpose perm [1, 0]) is
 * {@linkplain #blocker blocked}: it is
 * pruned without compensation, and the reason is reported. Lopper does not add biases to the graph.
 *
 * <p>The compensated biases are a weight change made before masking and before shrinking, from the
 * same {@link ChannelSelection}: the dense model with {@link #apply} and the selection's masks
 * computes what {@link #shrink} computes. Serializable: the dense biases travel with it, so tasks
 * need no model.
 *
 * <pre>{@code
 * BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
 * Map<String, WeightTensor> biases = compensation.biases(structure.groups(), selection, model.weights(), stats);
 * ShrunkModel small = compensation.shrink(structure, selection, biases);
 * }</pre>
 */
public final class BiasCompensation implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Where one consumer's compensation goes.
   *
   * @param consumer the INPUT member's tensor
   * @param node the consumer node
   * @param bias the bias initializer the compensation is added to
   * @param scale what a unit of the consumer's product adds to the bias (Gemm's alpha / beta, else 1)
   * @param shape the bias's shape
   * @param values the dense bias
   */
  public record Target(String consumer, String node, String bias, double scale, long[] shape, float[] values)
      implements Serializable {}

  private final Map<String, Target> targets;
  private final Map<Integer, String> blocked;

  private BiasCompensation(Map<String, Target> targets, Map<Integer, String> blocked) {
    this.targets = Collections.unmodifiableMap(new LinkedHashMap<>(targets));
    this.blocked = Collections.unmodifiableMap(new LinkedHashMap<>(blocked));
  }

  /** Where the compensation of every prunable group of {@code groups} goes, or why it cannot. */
  public static BiasCompensation of(OnnxModel model, List<ChannelGroup> groups) {
    Map<String, Integer> readers = new LinkedHashMap<>();
    for (Onnx.NodeProto node : model.nodes()) {
      node.getInputList().forEach(i -> readers.merge(i, 1, Integer::sum));
    }
    Map<String, Target> targets = new LinkedHashMap<>();
    Map<Integer, String> blocked = new LinkedHashMap<>();
    for (ChannelGroup g : groups) {
      if (!g.prunable()) {
        continue;
      }
      List<String> why = new ArrayList<>();
      for (ChannelGroup.Member m : g.members()) {
        if (m.role() != ChannelGroup.Role.INPUT) {
          continue;
        }
        String reason = target(model, m, readers, targets);
        if (reason != null) {
          why.add(m.tensor() + ": " + reason);
        }
      }
      if (!why.isEmpty()) {
        blocked.put(g.id(), "no bias compensation: " + String.join("; ", why));
      }
    }
    return new BiasCompensation(targets, blocked);
  }

  /** Finds member {@code m}'s bias and puts it into {@code targets}; returns why not, or null. */
  private static String target(OnnxModel model, ChannelGroup.Member m, Map<String, Integer> readers,
      Map<String, Target> targets) {
    // torch.onnx.export without constant folding: a Linear's weight [out, in] reaches its MatMul
    // through Transpose(perm [1, 0]); the member names the MatMul, its axis is the stored input axis.
    String read = m.tensor();
    for (Onnx.NodeProto n : model.nodes()) {
      if (n.getOpType().equals("Transpose") && n.getInputCount() == 1 && n.getInput(0).equals(m.tensor())
          && readers.getOrDefault(n.getOutput(0), 0) == 1) {
        long[] perm = NodeAttributes.integers(n, "perm");
        if (perm == null || java.util.Arrays.equals(perm, new long[] {1, 0})) {
          read = n.getOutput(0);
        }
      }
    }
    String value = read;
    Onnx.NodeProto node = model.nodes().stream()
        .filter(n -> NodeAttributes.nodeName(n).equals(m.node()) && n.getInputList().contains(value))
        .findFirst().orElse(null);
    if (node == null) {
      return "it reaches its consumer through another node (" + m.node() + ")";
    }
    if (!read.equals(m.tensor()) && !node.getOpType().equals("MatMul")) {
      return "its transpose is read by a " + node.getOpType() + " node (" + m.node() + ")";
    }
    String op = node.getOpType();
    String bias;
    double scale = 1;
    int outputs = Math.toIntExact(model.weight(m.tensor()).shape()[m.axis() == 0 ? 1 : 0]);
    switch (op) {
      case "Conv" -> bias = NodeAttributes.input(node, 2);
      case "Gemm" -> {
        if (!NodeAttributes.input(node, 1).equals(m.tensor())) {
          return "it is Gemm node " + m.node() + "'s A";
        }
        bias = NodeAttributes.input(node, 2);
        double beta = NodeAttributes.find(node, "beta").map(Onnx.AttributeProto::getF).orElse(1f);
        double alpha = NodeAttributes.find(node, "alpha").map(Onnx.AttributeProto::getF).orElse(1f);
        if (beta == 0) {
          return "Gemm node " + m.node() + " has beta = 0";
        }
        scale = alpha / beta;
      }
      case "MatMul" -> {
        if (!NodeAttributes.input(node, 1).equals(read)) {
          return "it is MatMul node " + m.node() + "'s left operand";
        }
        String out = node.getOutput(0);
        List<Onnx.NodeProto> next = model.nodes().stream().filter(n -> n.getInputList().contains(out)).toList();
        if (next.size() != 1 || !next.get(0).getOpType().equals("Add") || next.get(0).getInputCount() != 2) {
          return "MatMul node " + m.node() + "'s output is not read by exactly one Add (the bias)";
        }
        Onnx.NodeProto add = next.get(0);
        bias = add.getInput(0).equals(out) ? add.getInput(1) : add.getInput(0);
      }
      default -> {
        return "its consumer " + m.node() + " is a " + op + " node";
      }
    }
    if (bias.isEmpty()) {
      return op + " node " + m.node() + " has no bias (Lopper does not add one)";
    }
    WeightTensor b = model.weights().get(bias);
    if (b == null) {
      return "bias " + bias + " of node " + m.node() + " is not a float initializer";
    }
    long[] shape = b.shape();
    boolean vector = shape.length >= 1 && shape[shape.length - 1] == outputs && b.size() == outputs;
    if (!vector) {
      return "bias " + bias + " " + java.util.Arrays.toString(shape) + " is not one value per each of the "
          + outputs + " outputs";
    }
    if (readers.getOrDefault(bias, 0) != 1) {
      return "bias " + bias + " is read by " + readers.get(bias) + " node inputs";
    }
    targets.put(m.tensor(), new Target(m.tensor(), m.node(), bias, scale, shape.clone(), b.toArray()));
    return null;
  }

  /** Why group {@code id} gets no compensation, if it gets none. */
  public Optional<String> blocker(int id) {
    return Optional.ofNullable(blocked.get(id));
  }

  /** Every blocked group's reason, by group id. */
  public Map<Integer, String> blocked() {
    return blocked;
  }

  /** The bias each consumer tensor's compensation goes to, by consumer tensor name. */
  public Map<String, Target> targets() {
    return targets;
  }

  /**
   * The compensated dense biases for {@code selection}: every bias of a consumer of a selected,
   * not blocked group, with the removed channels' mean contribution added (several groups feeding
   * one consumer add up). Biases of groups that remove nothing are not returned.
   *
   * @param weights holds at least the consumer tensors of the selected groups
   * @param statistics the calibration statistics of the consumers' inputs, by consumer tensor name
   * @throws InvalidInputException when a consumer's statistics are missing or do not fit it
   */
  public Map<String, WeightTensor> biases(List<ChannelGroup> groups, ChannelSelection selection,
      Map<String, WeightTensor> weights, Map<String, InputStatistics> statistics) {
    Map<String, double[]> delta = new LinkedHashMap<>();
    for (int id : selection.groups()) {
      ChannelGroup g = groups.get(id);
      if (blocked.containsKey(id)) {
        continue;
      }
      int[] kept = selection.kept(id).orElseThrow();
      boolean[] keep = new boolean[Math.toIntExact(g.channels())];
      for (int c : kept) {
        keep[c] = true;
      }
      if (kept.length == keep.length) {
        continue;
      }
      for (ChannelGroup.Member m : g.members()) {
        if (m.role() != ChannelGroup.Role.INPUT) {
          continue;
        }
        Target t = targets.get(m.tensor());
        InputStatistics s = statistics.get(m.tensor());
        if (s == null) {
          throw new InvalidInputException("bias compensation of channel group " + g.name() + " needs the"
              + " calibration statistics of the input of " + m.tensor() + "; known for " + statistics.keySet());
        }
        ConsumerColumns columns = ConsumerColumns.of(m, weights.get(m.tensor()));
        columns.check(s, g.channels());
        double[] d = delta.computeIfAbsent(t.bias(), k -> new double[columns.outputs()]);
        double n = s.count();
        int per = columns.channelColumns();
        for (int c = 0; c < keep.length; c++) {
          if (keep[c]) {
            continue;
          }
          int first = columns.firstColumn(c);
          for (int j = first; j < first + per; j++) {
            double mean = s.sums()[j] / n;
            if (mean == 0) {
              continue;
            }
            for (int o = 0; o < d.length; o++) {
              d[o] += t.scale() * columns.get(o, j) * mean;
            }
          }
        }
      }
    }
    Map<String, WeightTensor> out = new LinkedHashMap<>();
    for (Target t : targets.values()) {
      double[] d = delta.get(t.bias());
      if (d == null || out.containsKey(t.bias())) {
        continue;
      }
      float[] values = new float[t.values().length];
      for (int o = 0; o < values.length; o++) {
        values[o] = (float) (t.values()[o] + d[o]);
      }
      out.put(t.bias(), WeightTensor.of(t.bias(), t.shape(), values));
    }
    return out;
  }

  /** {@code weights} with the compensated {@code biases} in place of the dense ones. */
  public static Map<String, WeightTensor> apply(Map<String, WeightTensor> weights, Map<String, WeightTensor> biases) {
    Map<String, WeightTensor> out = new LinkedHashMap<>(weights);
    out.putAll(biases);
    return out;
  }

  /**
   * The shrunk model of {@code selection} ({@link ModelShrinker#shrink}) with the compensated
   * {@code biases}, cut as the dense ones are.
   */
  public static ShrunkModel shrink(ModelStructure structure, ChannelSelection selection,
      Map<String, WeightTensor> biases) {
    ShrunkModel shrunk = ModelShrinker.shrink(structure, selection);
    if (biases.isEmpty()) {
      return shrunk;
    }
    Map<String, WeightTensor> weights = new LinkedHashMap<>(shrunk.weights());
    for (WeightTensor b : biases.values()) {
      TensorSlice slice = shrunk.slices().get(b.name());
      weights.put(b.name(), slice == null || slice.isFull() ? b : slice.apply(b));
    }
    return new ShrunkModel(shrunk.dense(), shrunk.graph(), weights, shrunk.slices());
  }

  @Override
  public String toString() {
    return "BiasCompensation[" + targets.size() + " consumers" + (blocked.isEmpty() ? "" : ", blocked " + blocked)
        + "]";
  }
}
