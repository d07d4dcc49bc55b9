package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lopper.InvalidInputException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CriteriaTest {

  @Test
  void findsCriteriaByNameAndAlias() {
    assertSame(MagnitudeCriterion.local(), Criteria.byName("magnitude"));
    assertSame(MagnitudeCriterion.local(), Criteria.byName("l1-unstructured"));
    assertSame(MagnitudeCriterion.global(), Criteria.byName("global-magnitude"));
    assertSame(ChannelCriterion.l1(), Criteria.byName("channel-l1"));
    assertSame(ChannelCriterion.l2(), Criteria.byName("channel-l2"));
    assertSame(WandaCriterion.instance(), Criteria.byName("wanda"));
    assertEquals(List.of("magnitude", "global-magnitude", "channel-l1", "channel-l2", "channel-fluctuation", "channel-wanda", "wanda", "sparsegpt"), Criteria.names());
  }

  @Test
  void refusesUnknownNameListingKnownOnes() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> Criteria.byName("random"));
    assertEquals("unknown pruning criterion 'random'; known criteria: magnitude (alias "
        + "l1-unstructured), global-magnitude, channel-l1, channel-l2, channel-fluctuation, channel-wanda, wanda, sparsegpt", e.getMessage());
  }

  @Test
  void contextHoldsConsumersAndCopiesThroughItsBuilder() {
    CriterionContext context = CriterionContext.builder()
        .optConsumer("conv1.weight", "Conv", 1, false)
        .optConsumer("fc.weight", "Gemm", 1, true)
        .build();
    assertEquals(Optional.of(new CriterionContext.Consumer("Gemm", 1, true)),
        context.consumer("fc.weight"));
    assertEquals(Optional.empty(), CriterionContext.empty().consumer("fc.weight"));
    CriterionContext changed = context.toBuilder().optConsumer("fc.weight", "MatMul", 1, false).build();
    assertEquals("MatMul", changed.consumer("fc.weight").orElseThrow().opType());
    assertEquals("Gemm", context.consumer("fc.weight").orElseThrow().opType());
    assertEquals(List.of("conv1.weight", "fc.weight"), List.copyOf(changed.consumers().keySet()));
  }
}
