package dev.lopper.calibration;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.BinaryOperator;

/**
 * A sum over chunks 0..C−1 whose every bit is fixed by the chunk indices alone, whichever tasks
 * hold which chunks and in whatever order their partial sums arrive.
 *
 * <p>The total is defined as a fixed binary tree over the leaf (chunk) indices: node (level k,
 * index i) covers leaves [i·2<sup>k</sup>, (i+1)·2<sup>k</sup>); its value is {@code add(left,
 * right)} when both children hold leaves, else its left child's value (leaves ≥ C do not exist).
 * Floating-point addition is not associative, so this one tree, not the order of arrival, decides
 * every rounding.
 *
 * <p>A partial ({@code new TreeSum<>(add)}, one per task) takes its chunks in increasing order and
 * keeps a binary-counter stack: a new leaf is pushed and the top two nodes are added while they are
 * true siblings (children of one node), so it holds O(log C) nodes, each a complete aligned block
 * of leaves, whose values are the full tree's values of those nodes. {@link #nodes()} hands them
 * out; {@link #merge} on the driver takes the nodes of all partials and combines them bottom-up into
 * the root's value, exactly the full tree's.
 *
 * <pre>{@code
 * // in each task, for its chunks in increasing order:
 * TreeSum<ChunkStatistics> partial = new TreeSum<>(ChunkStatistics::plus);
 * partial.add(chunk, statisticsOf(chunk));
 * return partial.nodes();
 * // on the driver:
 * ChunkStatistics total = TreeSum.merge(allNodes, chunkCount, ChunkStatistics::plus);
 * }</pre>
 *
 * <p>Memory: a partial holds at most one node per level, ⌈log₂ C⌉ + 1 values; with Gram matrices
 * of d = 3072 (72 MiB each) that bounds the partial's chunk count, or calls for fewer, larger
 * chunks. Not thread-safe.
 *
 * @param <T> the value type; nodes are {@link Serializable} when values are
 */
public final class TreeSum<T> {

  /**
   * One node of the tree and its value.
   *
   * @param level k: the node covers 2<sup>k</sup> leaves
   * @param index i: the node covers leaves [i·2<sup>k</sup>, (i+1)·2<sup>k</sup>)
   * @param value the full tree's value of the node
   */
  public record Node<T>(int level, long index, T value) implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    public Node {
      if (level < 0 || level > 62 || index < 0 || index > (Long.MAX_VALUE >> level) - 1) {
        throw new IllegalArgumentException("no tree node at level " + level + ", index " + index);
      }
      Objects.requireNonNull(value, "value");
    }

    /** The first leaf the node covers. */
    public long firstLeaf() {
      return index << level;
    }

    /** One past the last leaf the node covers. */
    public long endLeaf() {
      return (index + 1) << level;
    }

    @Override
    public String toString() {
      return "Node[level " + level + ", leaves " + firstLeaf() + ".." + (endLeaf() - 1) + "]";
    }
  }

  private final BinaryOperator<T> add;
  private final List<Node<T>> stack = new ArrayList<>();
  private long lastLeaf = -1;

  /** An empty partial adding values with {@code add} (left operand first). */
  public TreeSum(BinaryOperator<T> add) {
    this.add = Objects.requireNonNull(add, "add");
  }

  /**
   * Adds the value of leaf (chunk) {@code leaf}. Leaves come in increasing order; a task's chunks
   * are normally contiguous, and a gap only leaves nodes open for another partial to fill.
   *
   * @throws IllegalArgumentException when {@code leaf} is negative, or not above the last leaf added
   *     (out of order or a duplicate)
   */
  public void add(long leaf, T value) {
    Objects.requireNonNull(value, "value");
    if (leaf < 0) {
      throw new IllegalArgumentException("leaf " + leaf + " is negative");
    }
    if (leaf <= lastLeaf) {
      throw new IllegalArgumentException("leaf " + leaf + " added after leaf " + lastLeaf
          + (leaf == lastLeaf ? " (a duplicate)" : "") + "; a partial takes its leaves in increasing order");
    }
    lastLeaf = leaf;
    Node<T> node = new Node<>(0, leaf, value);
    while (!stack.isEmpty()) {
      Node<T> below = stack.get(stack.size() - 1);
      if (below.level() != node.level() || below.index() % 2 != 0 || below.index() + 1 != node.index()) {
        break;
      }
      stack.remove(stack.size() - 1);
      node = new Node<>(node.level() + 1, below.index() / 2, add.apply(below.value(), node.value()));
    }
    stack.add(node);
  }

  /** Whether no leaf was added. */
  public boolean isEmpty() {
    return stack.isEmpty();
  }

  /** The partial's nodes, in leaf order: what a task hands to the driver's {@link #merge}. */
  public List<Node<T>> nodes() {
    return List.copyOf(stack);
  }

  /**
   * The full tree's value over leaves 0..{@code leaves}−1 from the nodes of all partials, in any
   * order.
   *
   * @throws IllegalArgumentException when {@code leaves} is not positive, a node covers a leaf ≥
   *     {@code leaves}, two nodes share a leaf, or a leaf is in no node
   */
  public static <T> T merge(Collection<Node<T>> nodes, long leaves, BinaryOperator<T> add) {
    if (leaves < 1) {
      throw new IllegalArgumentException("a sum over " + leaves + " leaves; there must be at least one");
    }
    List<Node<T>> sorted = new ArrayList<>(nodes);
    sorted.sort(Comparator.comparingLong(Node::firstLeaf));
    long expected = 0;
    for (Node<T> node : sorted) {
      if (node.endLeaf() > leaves || node.endLeaf() <= 0) {
        throw new IllegalArgumentException(node + " covers leaves beyond the last, " + (leaves - 1));
      }
      if (node.firstLeaf() < expected) {
        throw new IllegalArgumentException("leaves " + node.firstLeaf() + ".." + (Math.min(expected, node.endLeaf()) - 1)
            + " are given twice (" + node + " overlaps an earlier node)");
      }
      if (node.firstLeaf() > expected) {
        throw new IllegalArgumentException("leaves " + expected + ".." + (node.firstLeaf() - 1) + " of 0.."
            + (leaves - 1) + " are missing");
      }
      expected = node.endLeaf();
    }
    if (expected < leaves) {
      throw new IllegalArgumentException("leaves " + expected + ".." + (leaves - 1) + " of 0.." + (leaves - 1)
          + " are missing");
    }
    int height = 64 - Long.numberOfLeadingZeros(leaves - 1); // ceil(log2(leaves)); 0 for one leaf
    Map<Integer, TreeMap<Long, T>> byLevel = new TreeMap<>();
    for (Node<T> node : sorted) {
      byLevel.computeIfAbsent(node.level(), k -> new TreeMap<>()).put(node.index(), node.value());
    }
    for (int k = 0; k < height; k++) {
      TreeMap<Long, T> level = byLevel.remove(k);
      if (level == null) {
        continue;
      }
      TreeMap<Long, T> up = byLevel.computeIfAbsent(k + 1, x -> new TreeMap<>());
      while (!level.isEmpty()) {
        Map.Entry<Long, T> left = level.pollFirstEntry();
        long i = left.getKey();
        if (i % 2 != 0) {
          throw new IllegalStateException("node (" + k + ", " + i + ") has no left sibling after validation");
        }
        T parent;
        if (((i + 1) << k) >= leaves) {
          parent = left.getValue(); // the right child holds no leaves
        } else {
          T right = level.remove(i + 1);
          if (right == null) {
            throw new IllegalStateException("node (" + k + ", " + (i + 1) + ") missing after validation");
          }
          parent = add.apply(left.getValue(), right);
        }
        up.put(i / 2, parent);
      }
    }
    TreeMap<Long, T> top = byLevel.get(height);
    if (byLevel.size() != 1 || top == null || top.size() != 1 || !top.containsKey(0L)) {
      throw new IllegalStateException("merging did not end in one root: " + byLevel.keySet());
    }
    return top.get(0L);
  }

  /** The full tree's value over {@code values} (leaf i = {@code values.get(i)}), in one process. */
  public static <T> T sum(List<T> values, BinaryOperator<T> add) {
    TreeSum<T> partial = new TreeSum<>(add);
    for (int i = 0; i < values.size(); i++) {
      partial.add(i, values.get(i));
    }
    return merge(partial.nodes(), values.size(), add);
  }
}
