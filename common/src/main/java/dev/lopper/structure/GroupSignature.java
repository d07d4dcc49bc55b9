package dev.lopper.structure;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import onnx.Onnx;

/**
 * What decides how long a channel group's channels take to run, as one string, so that the groups
 * of repeated layers can be told alike: two groups with the same signature have the same channel
 * count, and member for member the same role, axis, offset and block, the same kind of node reading
 * a tensor of the same shape with the same multiply-accumulates ({@link ChannelCost#weightMacs},
 * which tells a convolution on a 16 × 16 map from the same filters on an 8 × 8 one), and the same
 * Reshape edits. Removing the same share of their channels saves the same time, so the latency of
 * pruning them is measured once for all of them: the six blocks of MiniLM make two signatures (a
 * block's heads, its FFN neurons) of six groups each.
 *
 * <pre>{@code
 * Map<Integer, String> signatures = GroupSignature.of(structure, cost);
 * signatures.get(3).equals(signatures.get(7));   // groups 3 and 7 cost alike
 * }</pre>
 */
public final class GroupSignature {
  private GroupSignature() {}

  /** The signature of every group of {@code structure} by id; {@code cost} holds its costs. */
  public static Map<Integer, String> of(ModelStructure structure, ChannelCost cost) {
    Map<String, String> ops = new HashMap<>();
    for (Onnx.NodeProto node : structure.model().graph().getGraph().getNodeList()) {
      ops.put(node.getName(), node.getOpType());
    }
    Map<String, long[]> shapes = new HashMap<>();
    structure.model().weights().values().forEach(w -> shapes.put(w.name(), w.shape()));
    Map<Integer, String> out = new LinkedHashMap<>();
    for (ChannelGroup group : structure.groups()) {
      out.put(group.id(), of(group, ops, shapes, cost));
    }
    return out;
  }

  private static String of(ChannelGroup group, Map<String, String> ops, Map<String, long[]> shapes,
      ChannelCost cost) {
    StringBuilder s = new StringBuilder().append(group.channels()).append(" channels");
    for (ChannelGroup.Member m : group.members()) {
      long[] shape = shapes.get(m.tensor());
      s.append("; ").append(m.role()).append(' ').append(ops.getOrDefault(m.node(), "?"))
          .append(' ').append(shape == null ? "?" : Arrays.toString(shape))
          .append(" axis ").append(m.axis()).append('+').append(m.offset()).append('x').append(m.block())
          .append(' ').append(cost.weightMacs(m.tensor())).append(" MACs");
    }
    for (ChannelGroup.ShapeEdit e : group.shapeEdits()) {
      s.append("; reshape ").append(Arrays.toString(e.values())).append('[').append(e.position()).append("] -")
          .append(e.unit());
    }
    return s.toString();
  }
}
