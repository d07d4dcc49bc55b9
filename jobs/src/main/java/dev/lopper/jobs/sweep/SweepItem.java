package dev.lopper.jobs.sweep;

import dev.lopper.model.PrunableTensor;
import dev.lopper.structure.ChannelGroup;
import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the sweep prunes as one: a single tensor (unstructured criteria such as {@code magnitude})
 * or every tensor of a channel group together (structured criteria, {@code channel-l1} and
 * {@code channel-l2}), whose sensitivity is measured with the whole group pruned.
 *
 * @param name the tensor's name, or the group's name (its producing tensors joined by {@code +},
 *     e.g. {@code conv1.weight+conv3.weight})
 * @param node the readable name of a single tensor whose name is anonymous ({@link
 *     PrunableTensor#readableName()}), null for other tensors and for channel groups
 * @param op the consuming op of a tensor ({@code Conv}, {@code Gemm}, {@code MatMul}), or
 *     {@value #GROUP} for a channel group
 * @param tensors the tensors pruned together, at least one
 * @param parameters elements of those tensors
 * @param channels the group's channels, 0 for a single tensor
 * @param group the group's id in the model's {@code ModelStructure}, -1 for a single tensor
 */
public record SweepItem(String name, String node, String op, List<String> tensors, long parameters, long channels,
    int group)
    implements Serializable {

  /** The {@link #op()} of a channel group. */
  public static final String GROUP = "group";

  public SweepItem {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(op, "op");
    tensors = List.copyOf(tensors);
    if (tensors.isEmpty()) {
      throw new IllegalArgumentException("sweep item " + name + " has no tensors");
    }
  }

  /** A single prunable tensor. */
  public static SweepItem of(PrunableTensor tensor) {
    return new SweepItem(tensor.name(), tensor.readableName(), tensor.opType(), List.of(tensor.name()),
        tensor.parameters(), 0, -1);
  }

  /**
   * A channel group, pruned whole.
   *
   * @param shapes the dense shape of every member tensor
   */
  public static SweepItem of(ChannelGroup group, Map<String, long[]> shapes) {
    long parameters = 0;
    for (String tensor : group.tensors()) {
      long n = 1;
      for (long d : shapes.get(tensor)) {
        n *= d;
      }
      parameters += n;
    }
    return new SweepItem(group.name(), null, GROUP, group.tensors(), parameters, group.channels(), group.id());
  }

  /** True for a channel group. */
  public boolean isGroup() {
    return group >= 0;
  }
}
