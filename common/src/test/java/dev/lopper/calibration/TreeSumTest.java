package dev.lopper.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.BinaryOperator;
import org.junit.jupiter.api.Test;

/**
 * {@link TreeSum}: for every split of 0..C−1 into contiguous ranges (one partial each) and shuffled
 * arrival orders, the merged value is the fixed tree's value bit for bit, computed here by a
 * separate recursive definition; with doubles whose sum depends on the order of addition and with
 * {@link InputStatistics#plus}.
 */
class TreeSumTest {
  private static final BinaryOperator<Double> PLUS = Double::sum;

  /** Values whose sum depends on the order: huge terms cancel, small ones vanish or survive. */
  private static List<Double> orderSensitive(int count) {
    double[] pattern = {1e16, 1.0, -1e16, 3.5, 1e16, -1.0, 2.0, -1e16, 0.1, 7e15, 1.25, -7e15, 0.3};
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(pattern[i % pattern.length] * (1 + i / pattern.length));
    }
    return out;
  }

  /** The definition: node (k, i) = left + right when both hold leaves, else the left child. */
  private static <T> T tree(List<T> leaves, int level, long index, BinaryOperator<T> add) {
    if (level == 0) {
      return leaves.get((int) index);
    }
    T left = tree(leaves, level - 1, 2 * index, add);
    long rightFirst = (2 * index + 1) << (level - 1);
    return rightFirst < leaves.size() ? add.apply(left, tree(leaves, level - 1, 2 * index + 1, add)) : left;
  }

  private static <T> T definition(List<T> leaves, BinaryOperator<T> add) {
    int height = 0;
    while ((1L << height) < leaves.size()) {
      height++;
    }
    return tree(leaves, height, 0, add);
  }

  /** Merges the partials of the split whose range starts are the set bits of {@code cuts}. */
  private static <T> T mergeSplit(List<T> leaves, int cuts, BinaryOperator<T> add, Random shuffle) {
    List<List<TreeSum.Node<T>>> partials = new ArrayList<>();
    TreeSum<T> partial = new TreeSum<>(add);
    for (int leaf = 0; leaf < leaves.size(); leaf++) {
      if (leaf > 0 && (cuts & (1 << leaf)) != 0) {
        partials.add(partial.nodes());
        partial = new TreeSum<>(add);
      }
      partial.add(leaf, leaves.get(leaf));
    }
    partials.add(partial.nodes());
    Collections.shuffle(partials, shuffle);
    List<TreeSum.Node<T>> all = new ArrayList<>();
    partials.forEach(all::addAll);
    return TreeSum.merge(all, leaves.size(), add);
  }

  @Test
  void everySplitOfDoublesGivesTheTreeValueBitForBit() {
    Random shuffle = new Random(3);
    for (int c = 1; c <= 11; c++) {
      List<Double> leaves = orderSensitive(c);
      double expected = definition(leaves, PLUS);
      for (int cuts = 0; cuts < (1 << c); cuts += 2) { // bit 0 (a cut before leaf 0) means nothing
        double merged = mergeSplit(leaves, cuts, PLUS, shuffle);
        assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(merged),
            "C=" + c + ", range starts " + Integer.toBinaryString(cuts) + ": " + merged + " vs " + expected);
      }
    }
  }

  @Test
  void aNaiveMergeOfTheseValuesDependsOnTheSplit() {
    // Guards the test above against values for which every order gives the same sum: partials that
    // sum their leaves in order, added up in arrival order, give several different totals.
    List<Double> leaves = orderSensitive(11);
    Random shuffle = new Random(4);
    java.util.Set<Double> totals = new java.util.HashSet<>();
    for (int cuts = 0; cuts < (1 << leaves.size()); cuts += 2) {
      List<Double> partials = new ArrayList<>();
      double partial = 0;
      for (int leaf = 0; leaf < leaves.size(); leaf++) {
        if (leaf > 0 && (cuts & (1 << leaf)) != 0) {
          partials.add(partial);
          partial = 0;
        }
        partial += leaves.get(leaf);
      }
      partials.add(partial);
      Collections.shuffle(partials, shuffle);
      totals.add(partials.stream().reduce(0.0, Double::sum));
    }
    assertTrue(totals.size() > 3, "naive totals " + totals);
  }

  @Test
  void everySplitOfInputStatisticsGivesTheTreeValueBitForBit() {
    Random random = new Random(5);
    int c = 9;
    List<InputStatistics> leaves = new ArrayList<>();
    for (int i = 0; i < c; i++) {
      int dim = 3;
      double[] sums = new double[dim];
      double[] squares = new double[dim];
      double[] gram = new double[dim * dim];
      for (int j = 0; j < dim; j++) {
        sums[j] = (random.nextBoolean() ? 1e16 : 1) * random.nextGaussian();
        squares[j] = Math.abs(sums[j]) * random.nextDouble();
      }
      for (int j = 0; j < gram.length; j++) {
        gram[j] = (random.nextInt(3) == 0 ? -1e17 : 1) * random.nextGaussian();
      }
      leaves.add(new InputStatistics(dim, 10 + i, sums, squares, gram));
    }
    InputStatistics expected = definition(leaves, InputStatistics::plus);
    assertEquals(leaves.stream().mapToLong(InputStatistics::count).sum(), expected.count());
    for (int cuts = 0; cuts < (1 << c); cuts += 2) {
      InputStatistics merged = mergeSplit(leaves, cuts, InputStatistics::plus, random);
      assertEquals(expected, merged, "range starts " + Integer.toBinaryString(cuts));
      assertArrayEquals(expected.gram(), merged.gram());
    }
  }

  @Test
  void aPartialHoldsItsMaximalAlignedBlocks() {
    TreeSum<Double> partial = new TreeSum<>(PLUS);
    for (int leaf = 3; leaf <= 12; leaf++) {
      partial.add(leaf, 1.0);
    }
    // 3 | 4..7 | 8..11 | 12
    assertEquals(List.of("0:3", "2:1", "2:2", "0:12"),
        partial.nodes().stream().map(n -> n.level() + ":" + n.index()).toList());
    assertEquals(List.of(1.0, 4.0, 4.0, 1.0), partial.nodes().stream().map(TreeSum.Node::value).toList());
    assertTrue(partial.nodes().size() <= 2 * 4);
  }

  @Test
  void nodesSurviveJavaSerialization() throws Exception {
    TreeSum<Double> partial = new TreeSum<>(PLUS);
    partial.add(0, 1e16);
    partial.add(1, 1.0);
    partial.add(2, -1e16);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(new ArrayList<>(partial.nodes()));
    }
    @SuppressWarnings("unchecked")
    List<TreeSum.Node<Double>> back = (List<TreeSum.Node<Double>>) new ObjectInputStream(
        new ByteArrayInputStream(bytes.toByteArray())).readObject();
    assertEquals(partial.nodes(), back);
    assertEquals(definition(List.of(1e16, 1.0, -1e16), PLUS), TreeSum.merge(back, 3, PLUS));
  }

  @Test
  void sumIsTheTreeValue() {
    List<Double> leaves = orderSensitive(13);
    assertEquals(definition(leaves, PLUS), TreeSum.sum(leaves, PLUS));
    assertEquals(4.0, TreeSum.sum(List.of(4.0), PLUS));
  }

  @Test
  void refusesLeavesOutOfOrderAndDuplicates() {
    TreeSum<Double> partial = new TreeSum<>(PLUS);
    partial.add(4, 1.0);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> partial.add(4, 1.0))
        .getMessage().contains("duplicate"));
    assertThrows(IllegalArgumentException.class, () -> partial.add(2, 1.0));
    assertThrows(IllegalArgumentException.class, () -> new TreeSum<>(PLUS).add(-1, 1.0));
  }

  @Test
  void mergeRefusesMissingDuplicatedAndExcessLeaves() {
    TreeSum<Double> a = new TreeSum<>(PLUS);
    TreeSum<Double> b = new TreeSum<>(PLUS);
    for (int leaf = 0; leaf < 4; leaf++) {
      a.add(leaf, 1.0);
    }
    for (int leaf = 3; leaf < 6; leaf++) {
      b.add(leaf, 1.0);
    }
    List<TreeSum.Node<Double>> both = new ArrayList<>(a.nodes());
    both.addAll(b.nodes());
    String twice = assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(both, 6, PLUS)).getMessage();
    assertTrue(twice.contains("leaves 3..3 are given twice"), twice);

    String missing = assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(a.nodes(), 6, PLUS))
        .getMessage();
    assertTrue(missing.contains("leaves 4..5 of 0..5 are missing"), missing);
    String gap = assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(b.nodes(), 6, PLUS))
        .getMessage();
    assertTrue(gap.contains("leaves 0..2 of 0..5 are missing"), gap);

    String beyond = assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(a.nodes(), 3, PLUS))
        .getMessage();
    assertTrue(beyond.contains("beyond the last, 2"), beyond);
    assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(List.of(), 0, PLUS));
    assertThrows(IllegalArgumentException.class, () -> TreeSum.merge(List.of(), 2, PLUS));
  }
}
