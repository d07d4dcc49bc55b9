package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lopper.InvalidInputException;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ChannelGroup.Member;
import dev.lopper.structure.ChannelGroup.Role;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Channel scores, selections and masks on hand-made groups, computed by hand. */
class ChannelCriterionTest {

  // Rows of a: L1 2, 1, 3. Columns of b: L1 1, 2, 0.5. Combined: 3, 3, 3.5.
  private static final WeightTensor A = WeightTensor.of("a", new long[] {3, 2}, new float[] {1, -1, 0.5f, 0.5f, 3, 0});
  private static final WeightTensor B = WeightTensor.of("b", new long[] {2, 3}, new float[] {0, 2, 0, 1, 0, -0.5f});
  private static final WeightTensor BIAS = WeightTensor.of("bias", new long[] {3}, new float[] {7, 8, 9});
  private static final WeightTensor NEXT = WeightTensor.of("next", new long[] {4, 3}, new float[12]);

  /** Producers a (rows) and b (columns), a bias and a consumer reading the channels as columns. */
  private static final ChannelGroup GROUP = new ChannelGroup(0, "a+b", 3, List.of(
      new Member("a", Role.OUTPUT, 0, 0, 1, "n1"),
      new Member("b", Role.OUTPUT, 1, 0, 1, "n2"),
      new Member("bias", Role.PARAMETER, 0, 0, 1, "n1"),
      new Member("next", Role.INPUT, 1, 0, 1, "n3")), List.of());

  private static final CriterionContext CONTEXT = CriterionContext.builder()
      .optChannelGroups(List.of(GROUP)).build();

  private static BitSet bits(int... indices) {
    BitSet set = new BitSet();
    for (int i : indices) {
      set.set(i);
    }
    return set;
  }

  @Test
  void scoresAChannelByTheSumOfItsProducersNorms() {
    Map<String, WeightTensor> weights = Map.of("a", A, "b", B);
    assertArrayEquals(new double[] {3, 3, 3.5}, ChannelCriterion.l1().scores(GROUP, weights), 1e-12);
    double[] l2 = {Math.sqrt(2) + 1, Math.sqrt(0.5) + 2, 3 + 0.5};
    assertArrayEquals(l2, ChannelCriterion.l2().scores(GROUP, weights), 1e-12);
  }

  @Test
  void prunesWholeChannelsInEveryTensorOfTheGroupLowerIndexFirstOnTies() {
    // One channel of three (round(3 / 3) = 1): channels 0 and 1 tie at 3, so channel 0 goes.
    MaskSet masks = ChannelCriterion.l1().select(List.of(A, B, BIAS, NEXT), 1.0 / 3, CONTEXT);
    assertEquals(List.of("a", "b", "bias", "next"), List.copyOf(masks.names()));
    assertEquals(bits(0, 1), masks.get("a").orElseThrow().pruned());
    assertEquals(bits(0, 3), masks.get("b").orElseThrow().pruned());
    assertEquals(bits(0), masks.get("bias").orElseThrow().pruned());
    assertEquals(bits(0, 3, 6, 9), masks.get("next").orElseThrow().pruned());
    // Two of three: channel 1 as well.
    MaskSet two = ChannelCriterion.l1().select(List.of(NEXT, A, B, BIAS), 2.0 / 3, CONTEXT);
    assertEquals(List.of("next", "a", "b", "bias"), List.copyOf(two.names()));
    assertEquals(bits(0, 1, 2, 3), two.get("a").orElseThrow().pruned());
    assertEquals(bits(0, 1, 3, 4, 6, 7, 9, 10), two.get("next").orElseThrow().pruned());
  }

  @Test
  void l1AndL2RankFiltersDifferently() {
    // Rows: [1, 1] has L1 2 and L2 1.41; [1.8, 0] has L1 1.8 and L2 1.8.
    WeightTensor w = WeightTensor.of("w", new long[] {3, 2}, new float[] {1, 1, 1.8f, 0, 3, 0});
    ChannelGroup group = new ChannelGroup(0, "w", 3, List.of(new Member("w", Role.OUTPUT, 0, 0, 1, "n")), List.of());
    Map<String, WeightTensor> weights = Map.of("w", w);
    assertArrayEquals(new int[] {0, 2}, ChannelCriterion.l1().keep(group, weights, 0.3));
    assertArrayEquals(new int[] {1, 2}, ChannelCriterion.l2().keep(group, weights, 0.3));
  }

  @Test
  void countsPrunedChannelsAsPyTorchRoundsThem() {
    double[] scores = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    // round(0.25 * 10) = round(2.5) = 2, round(0.35 * 10) = round(3.5) = 4, 0.15 * 10 = 1.5 -> 2.
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, ChannelCriterion.keep(scores, 0.25));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, ChannelCriterion.keep(scores, 0.35));
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, ChannelCriterion.keep(scores, 0.15));
    assertArrayEquals(new int[0], ChannelCriterion.keep(scores, 1.0));
  }

  @Test
  void aGridGivesWhatSelectGivesAtEachSparsity() {
    List<WeightTensor> tensors = List.of(A, B, BIAS, NEXT);
    double[] grid = {0.0, 0.4, 0.7, 1.0};
    List<MaskSet> masks = ChannelCriterion.l2().selectGrid(tensors, grid, CONTEXT);
    for (int i = 0; i < grid.length; i++) {
      assertEquals(ChannelCriterion.l2().select(tensors, grid[i], CONTEXT), masks.get(i));
    }
    assertEquals(0, masks.get(0).totalPruned());
    assertEquals(6 + 6 + 3 + 12, masks.get(3).totalPruned());
  }

  @Test
  void refusesPartOfAGroupNamingWhatIsMissing() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ChannelCriterion.l1().select(List.of(A, B), 0.5, CONTEXT));
    assertEquals("criterion channel-l1 prunes whole channel groups, and tensor a is given without the"
        + " rest of its group; group 0 (a+b) also needs [bias, next]", e.getMessage());
  }

  @Test
  void refusesAGroupThatIsNotPrunable() {
    ChannelGroup blocked = new ChannelGroup(0, "a", 3, List.of(new Member("a", Role.OUTPUT, 0, 0, 1, "n")),
        List.of("its channels reach node r (Reshape)"));
    CriterionContext context = CriterionContext.builder().optChannelGroups(List.of(blocked)).build();
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ChannelCriterion.l1().select(List.of(A), 0.5, context));
    assertEquals("criterion channel-l1 prunes whole channel groups, and tensor a is given without the"
        + " rest of its group; group 0 (a) is not prunable structurally: its channels reach node r (Reshape)",
        e.getMessage());
  }

  @Test
  void needsTheGroupsInItsContext() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Criteria.byName("channel-l2").select(List.of(A), 0.5, CriterionContext.empty()));
    assertEquals("criterion channel-l2 prunes whole channel groups and needs the model's groups in its"
        + " context (CriterionContext.Builder.optChannelGroups with ModelStructure.analyse(model).groups())",
        e.getMessage());
    assertThrows(InvalidInputException.class, () -> ChannelCriterion.l1().select(List.of(A, B, BIAS, NEXT), 1.5, CONTEXT));
  }
}
