package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import org.junit.jupiter.api.Test;

class WeightLayoutTest {

  private static CriterionContext.Consumer consumer(String op, int input, boolean transposed) {
    return new CriterionContext.Consumer(op, input, transposed);
  }

  @Test
  void convRowsAreFiltersAndColumnsFlattenChannelsThenKernel() {
    WeightLayout layout = WeightLayout.of("conv", new long[] {8, 3, 3, 3}, consumer("Conv", 1, false));
    assertEquals(8, layout.rows());
    assertEquals(27, layout.cols());
    assertFalse(layout.rowsOnLastAxis());
    // (filter 2, channel 1, kernel row 2, kernel col 0) is column 1·9 + 2·3 + 0 = 15, flat 2·27 + 15.
    assertEquals(2 * 27 + 15, layout.index(2, 15));
  }

  @Test
  void linearLayoutsFollowTheConsumer() {
    long[] outIn = {4, 6};
    for (CriterionContext.Consumer c : new CriterionContext.Consumer[] {
        consumer("Gemm", 1, true), consumer("MatMul", 1, true), consumer("MatMul", 0, false), consumer("Gemm", 0, false)}) {
      WeightLayout layout = WeightLayout.of("w", outIn, c);
      assertEquals(4, layout.rows(), c.toString());
      assertEquals(6, layout.cols(), c.toString());
      assertEquals(1 * 6 + 5, layout.index(1, 5), c.toString());
    }
    long[] inOut = {6, 4};
    for (CriterionContext.Consumer c : new CriterionContext.Consumer[] {
        consumer("Gemm", 1, false), consumer("MatMul", 1, false), consumer("Gemm", 0, true)}) {
      WeightLayout layout = WeightLayout.of("w", inOut, c);
      assertTrue(layout.rowsOnLastAxis(), c.toString());
      assertEquals(4, layout.rows(), c.toString());
      assertEquals(6, layout.cols(), c.toString());
      // Row 1, input 5 is stored at [5, 1].
      assertEquals(5 * 4 + 1, layout.index(1, 5), c.toString());
    }
  }

  @Test
  void rowsRoundTripThroughTheStoredLayout() {
    float[] values = new float[12];
    for (int i = 0; i < values.length; i++) {
      values[i] = i;
    }
    WeightTensor w = WeightTensor.of("w", new long[] {3, 4}, values);
    WeightLayout layout = WeightLayout.of(w, consumer("MatMul", 1, false));
    double[] rows = layout.toRows(w);
    // Stored [in = 3, out = 4]: row r is column r.
    assertArrayEquals(new double[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, rows, 0.0);
    WeightTensor back = layout.fromRows(rows);
    assertArrayEquals(values, back.toArray(), 0f);
    assertArrayEquals(new long[] {3, 4}, back.shape());
    assertEquals("w", back.name());
  }

  @Test
  void refusesLayoutsItDoesNotKnow() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> WeightLayout.of("w", new long[] {2, 3, 4}, consumer("MatMul", 1, false)));
    assertEquals("tensor w [2, 3, 4] feeds a MatMul but is not a matrix; row-wise criteria need a 2-D weight",
        e.getMessage());
    e = assertThrows(InvalidInputException.class,
        () -> WeightLayout.of("w", new long[] {2, 3}, consumer("ConvTranspose", 1, false)));
    assertEquals("tensor w feeds a ConvTranspose; row-wise criteria know the layouts of Conv, Gemm and MatMul"
        + " weights", e.getMessage());
    assertThrows(InvalidInputException.class, () -> WeightLayout.of("w", new long[] {2, 3}, consumer("Conv", 1, false)));
  }
}
