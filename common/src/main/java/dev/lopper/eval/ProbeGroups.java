package dev.lopper.eval;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import onnx.Onnx;

/**
 * How {@link Evaluator#checkReplacementsTakeEffect} groups the tensors it probes. A group is
 * probed on the suffix of its tensors' joint cut: one session of the dense suffix, the reference,
 * and one per tensor zeroed, all of the same graph. Building a session costs roughly in proportion
 * to its graph's nodes (measured on a 12-block GPT decoder: about 0.5 ms a node at full
 * optimisation), so a group of {@code k} tensors whose suffixes together hold {@code n} nodes costs
 * about {@code (k + 1) n}. One group per tensor builds every suffix twice; one group for all builds
 * the whole model once per tensor. The groups chosen are runs of tensors consecutive in graph order
 * (by the first node of their suffix) that minimise the sum over groups; on a chain of {@code T}
 * tensors they are about {@code √T} long.
 */
final class ProbeGroups {
  private ProbeGroups() {}

  /**
   * The single-tensor cuts {@code cuts}, each with a suffix, in groups as above: every cut in
   * exactly one group, the groups and their members in graph order.
   */
  static List<List<GraphCut>> of(List<GraphCut> cuts) {
    if (cuts.isEmpty()) {
      return List.of();
    }
    List<Onnx.NodeProto> nodes = cuts.get(0).model().nodes();
    Map<Onnx.NodeProto, Integer> index = new IdentityHashMap<>();
    for (int n = 0; n < nodes.size(); n++) {
      index.put(nodes.get(n), n);
    }
    List<BitSet> suffixes = new ArrayList<>(cuts.size());
    for (GraphCut cut : cuts) {
      BitSet suffix = new BitSet(nodes.size());
      cut.suffixNodes().forEach(node -> suffix.set(index.get(node)));
      suffixes.add(suffix);
    }
    int[] order = IntStream.range(0, cuts.size()).boxed()
        .sorted(Comparator.comparingInt(i -> suffixes.get(i).nextSetBit(0)))
        .mapToInt(Integer::intValue).toArray();
    // best[j]: least cost of grouping the first j tensors in order; the last group starts at start[j].
    long[] best = new long[order.length + 1];
    int[] start = new int[order.length + 1];
    for (int j = 1; j <= order.length; j++) {
      best[j] = Long.MAX_VALUE;
      BitSet joint = new BitSet(nodes.size());
      for (int i = j - 1; i >= 0; i--) {
        joint.or(suffixes.get(order[i]));
        long cost = best[i] + (long) (j - i + 1) * joint.cardinality();
        if (cost < best[j]) {
          best[j] = cost;
          start[j] = i;
        }
      }
    }
    List<List<GraphCut>> groups = new ArrayList<>();
    for (int j = order.length; j > 0; j = start[j]) {
      List<GraphCut> group = new ArrayList<>(j - start[j]);
      for (int i = start[j]; i < j; i++) {
        group.add(cuts.get(order[i]));
      }
      groups.add(0, group);
    }
    return groups;
  }
}
