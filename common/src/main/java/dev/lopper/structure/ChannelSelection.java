package dev.lopper.structure;

import dev.lopper.InvalidInputException;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The channels kept in some channel groups: group id to kept channel indices, in increasing order.
 * Groups not in the selection keep all their channels. Immutable.
 *
 * <p>A selection becomes per-tensor {@link TensorSlice}s, then either masks of the dense tensors
 * (for masked evaluation in a sweep) or a physically smaller model ({@link ModelShrinker}). A
 * tensor that belongs to several groups (a Conv weight is the output of one group and the input
 * of another) is cut by all of them.
 *
 * <pre>{@code
 * ChannelSelection keep = ChannelSelection.of(Map.of(0, new int[] {0, 2, 5}));
 * MaskSet masks = keep.masks(structure);                   // zeroes whole channels
 * ShrunkModel small = ModelShrinker.shrink(structure, keep); // removes them
 * }</pre>
 */
public final class ChannelSelection {

  private static final ChannelSelection NONE = new ChannelSelection(new TreeMap<>());

  private final Map<Integer, int[]> kept;

  private ChannelSelection(TreeMap<Integer, int[]> kept) {
    this.kept = Collections.unmodifiableMap(kept);
  }

  /** A selection keeping {@code kept.get(g)} of each group g. */
  public static ChannelSelection of(Map<Integer, int[]> kept) {
    TreeMap<Integer, int[]> copy = new TreeMap<>();
    kept.forEach((g, k) -> copy.put(g, checkIncreasing(g, k)));
    return new ChannelSelection(copy);
  }

  /** The selection that keeps everything. */
  public static ChannelSelection none() {
    return NONE;
  }

  /** This selection with group {@code group} keeping {@code channels} (replacing an earlier choice). */
  public ChannelSelection with(int group, int[] channels) {
    TreeMap<Integer, int[]> copy = new TreeMap<>(kept);
    copy.put(group, checkIncreasing(group, channels));
    return new ChannelSelection(copy);
  }

  /** The groups this selection names, in increasing id order. */
  public Set<Integer> groups() {
    return kept.keySet();
  }

  /** The channels kept in {@code group}, if the selection names it. */
  public Optional<int[]> kept(int group) {
    int[] k = kept.get(group);
    return k == null ? Optional.empty() : Optional.of(k.clone());
  }

  /**
   * The slice of every tensor that loses something, in the order of first mention by the groups.
   *
   * @param groups the groups the ids refer to (indexed by {@link ChannelGroup#id()})
   * @param tensorShapes the dense shape of every member tensor
   * @throws InvalidInputException when a selected group is not prunable structurally
   * @throws IllegalArgumentException when a group id is unknown or a channel is out of range
   */
  public Map<String, TensorSlice> slices(List<ChannelGroup> groups, Map<String, long[]> tensorShapes) {
    Map<String, TensorSlice> out = new LinkedHashMap<>();
    for (Map.Entry<Integer, int[]> e : kept.entrySet()) {
      ChannelGroup group = find(groups, e.getKey());
      if (!group.prunable()) {
        throw new InvalidInputException("channel group " + group.id() + " (" + group.name()
            + ") is not prunable structurally: " + group.reason());
      }
      int[] channels = e.getValue();
      if (channels.length > 0 && channels[channels.length - 1] >= group.channels()) {
        throw new IllegalArgumentException("channel group " + group.id() + " (" + group.name()
            + ") has " + group.channels() + " channels; kept " + Arrays.toString(channels));
      }
      if (channels.length == group.channels()) {
        continue;
      }
      for (ChannelGroup.Member m : group.members()) {
        long[] shape = tensorShapes.get(m.tensor());
        if (shape == null) {
          throw new IllegalArgumentException("no shape given for tensor " + m.tensor() + " of group " + group.name());
        }
        TensorSlice slice = out.getOrDefault(m.tensor(), TensorSlice.full(m.tensor(), shape));
        out.put(m.tensor(), slice.keepOnly(m.axis(), keptIndices(m, group.channels(), channels, shape)));
      }
    }
    return out;
  }

  /** Masks of the dense tensors of {@code structure}'s model for this selection (see {@link #masks(List, Map)}). */
  public MaskSet masks(ModelStructure structure) {
    return masks(structure.groups(), structure.tensorShapes());
  }

  /**
   * A mask for every tensor that loses something: the positions of removed channels are pruned.
   * In a masked model every removed channel is zero from its producers through its consumers,
   * which is what makes it compute the same outputs as the shrunk one.
   */
  public MaskSet masks(List<ChannelGroup> groups, Map<String, long[]> tensorShapes) {
    List<Mask> masks = new ArrayList<>();
    for (TensorSlice slice : slices(groups, tensorShapes).values()) {
      masks.add(slice.mask());
    }
    return MaskSet.of(masks);
  }

  /** The indices a member keeps on its axis: every position not taken by a removed channel. */
  private static int[] keptIndices(ChannelGroup.Member m, long channels, int[] keptChannels, long[] shape) {
    BitSet keep = new BitSet();
    keep.set(0, (int) shape[m.axis()]);
    BitSet removed = new BitSet();
    removed.set(0, (int) channels);
    Arrays.stream(keptChannels).forEach(removed::clear);
    for (int c = removed.nextSetBit(0); c >= 0; c = removed.nextSetBit(c + 1)) {
      long from = m.offset() + c * m.block();
      keep.clear((int) from, (int) (from + m.block()));
    }
    return keep.stream().toArray();
  }

  private static ChannelGroup find(List<ChannelGroup> groups, int id) {
    if (id >= 0 && id < groups.size() && groups.get(id).id() == id) {
      return groups.get(id);
    }
    for (ChannelGroup g : groups) {
      if (g.id() == id) {
        return g;
      }
    }
    throw new IllegalArgumentException("no channel group " + id + " among " + groups.size() + " groups");
  }

  private static int[] checkIncreasing(int group, int[] channels) {
    for (int i = 0; i < channels.length; i++) {
      if (channels[i] < 0 || (i > 0 && channels[i] <= channels[i - 1])) {
        throw new IllegalArgumentException("kept channels of group " + group + " must be increasing"
            + " and non-negative: " + Arrays.toString(channels));
      }
    }
    return channels.clone();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof ChannelSelection other) || !kept.keySet().equals(other.kept.keySet())) {
      return false;
    }
    return kept.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), other.kept.get(e.getKey())));
  }

  @Override
  public int hashCode() {
    int h = 0;
    for (Map.Entry<Integer, int[]> e : kept.entrySet()) {
      h += e.getKey() ^ Arrays.hashCode(e.getValue());
    }
    return h;
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("ChannelSelection[");
    kept.forEach((g, k) -> s.append(g).append(": ").append(k.length).append(" kept; "));
    return s.append("]").toString();
  }
}
