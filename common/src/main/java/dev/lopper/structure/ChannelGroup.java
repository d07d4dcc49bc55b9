package dev.lopper.structure;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;

/**
 * Weight tensors that must lose the same channels: removing channel {@code c} of the group removes,
 * from every {@link Member}, the indices {@code offset + c * block} to {@code offset + (c + 1) *
 * block - 1} along the member's axis.
 *
 * <p>A group starts at the output channels (neurons) of one or more producing weights ({@link
 * Role#OUTPUT}: a Conv's filters, the rows of a Gemm with {@code transB = 1}, the columns of a
 * MatMul's right operand) and takes in the per-channel parameters on the way ({@link
 * Role#PARAMETER}: biases, BatchNormalization's scale, bias, mean and variance, a depthwise Conv's
 * filters) and the input channels or columns of the weights that read those channels ({@link
 * Role#INPUT}). Producers whose outputs meet in a residual Add (or another element-wise join) are
 * one group. A group that reaches something Lopper cannot see through is not {@link #prunable()};
 * its {@link #blockers()} say why.
 *
 * @param id the group's number in its {@link ModelStructure}, from 0 in graph order
 * @param name the producing weights' names joined by {@code +}, e.g. {@code conv1.weight+conv3.weight}
 * @param channels the number of channels
 * @param members how each tensor takes part, producers first, then in graph order
 * @param blockers why the group cannot be pruned structurally; empty when it can
 * @param shapeEdits the Reshape shape entries that count the group's channels (a head count, or
 *     heads × head size), which a shrunk model must rewrite
 */
public record ChannelGroup(int id, String name, long channels, List<Member> members,
    List<String> blockers, List<ShapeEdit> shapeEdits) implements Serializable {

  /** A group whose channels appear in no Reshape shape. */
  public ChannelGroup(int id, String name, long channels, List<Member> members, List<String> blockers) {
    this(id, name, channels, members, blockers, List.of());
  }

  /** How a tensor takes part in a group. */
  public enum Role {
    /** A weight whose output channels are the group's channels; its norms score the channels. */
    OUTPUT,
    /** A per-channel parameter (bias, normalisation parameter, depthwise filter). */
    PARAMETER,
    /** A weight that reads the channels: its input channels or columns go with them. */
    INPUT
  }

  /**
   * One tensor's part in a group.
   *
   * @param tensor the initializer's name
   * @param role what the tensor is to the group
   * @param axis the tensor's axis that holds the channels
   * @param offset the index of channel 0's first position on that axis
   * @param block positions per channel on that axis (a Gemm after Flatten reads H×W columns per
   *     channel)
   * @param node the node that reads the tensor
   */
  public record Member(String tensor, Role role, int axis, long offset, long block, String node)
      implements Serializable {
    public Member {
      Objects.requireNonNull(tensor, "tensor");
      Objects.requireNonNull(role, "role");
      if (axis < 0 || offset < 0 || block < 1) {
        throw new IllegalArgumentException("member " + tensor + ": axis " + axis + ", offset "
            + offset + ", block " + block);
      }
    }
  }

  /**
   * One integer entry of a Reshape's shape that counts the group's channels: input {@code input}
   * of node {@code node} is the integer vector {@code values}, whose element {@code position} is
   * {@code channels * unit} positions of a tagged axis (plus any positions outside the group). A
   * shrunk model replaces that input with a new constant in which the element is lowered by {@code
   * unit} per removed channel; the new constant is the node's alone, so a constant that other
   * nodes share (the head count of every layer) is never changed for them.
   *
   * @param node the node whose input is replaced: the Reshape, or the Concat that builds its shape
   * @param input the index of that input
   * @param values the dense model's elements of that input
   * @param position the element that counts the channels
   * @param unit how much one channel adds to it (1 for a head count, the head size for heads ×
   *     head size)
   * @param reshape the Reshape whose shape this is, for messages
   */
  public record ShapeEdit(String node, int input, long[] values, int position, long unit,
      String reshape) implements Serializable {
    public ShapeEdit {
      Objects.requireNonNull(node, "node");
      values = values.clone();
      if (position < 0 || position >= values.length || unit < 1) {
        throw new IllegalArgumentException("shape edit of " + node + ": position " + position
            + " of " + java.util.Arrays.toString(values) + ", unit " + unit);
      }
    }

    @Override
    public long[] values() {
      return values.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ShapeEdit e && node.equals(e.node) && input == e.input
          && java.util.Arrays.equals(values, e.values) && position == e.position && unit == e.unit
          && reshape.equals(e.reshape);
    }

    @Override
    public int hashCode() {
      return Objects.hash(node, input, java.util.Arrays.hashCode(values), position, unit, reshape);
    }

    @Override
    public String toString() {
      return "ShapeEdit[" + node + " input " + input + " " + java.util.Arrays.toString(values) + "["
          + position + "] -= " + unit + " per removed channel (" + reshape + ")]";
    }
  }

  public ChannelGroup {
    Objects.requireNonNull(name, "name");
    members = List.copyOf(members);
    blockers = List.copyOf(blockers);
    shapeEdits = List.copyOf(shapeEdits);
  }

  /** True when the group can be pruned structurally. */
  public boolean prunable() {
    return blockers.isEmpty();
  }

  /** The blockers joined by "; ", or "" for a prunable group. */
  public String reason() {
    return String.join("; ", blockers);
  }

  /** The distinct tensor names of the members, in member order. */
  public List<String> tensors() {
    return List.copyOf(new LinkedHashSet<>(members.stream().map(Member::tensor).toList()));
  }

  /** The producing members ({@link Role#OUTPUT}), whose norms score the channels. */
  public List<Member> outputs() {
    List<Member> out = new ArrayList<>();
    for (Member m : members) {
      if (m.role() == Role.OUTPUT) {
        out.add(m);
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return "ChannelGroup[" + id + " " + name + ", " + channels + " channels, " + members.size()
        + " members" + (prunable() ? "" : ", not prunable: " + reason()) + "]";
  }
}
