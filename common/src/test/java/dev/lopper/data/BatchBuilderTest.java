package dev.lopper.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BatchBuilderTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void checkNothingLeaks() {
    assertEquals(0, allocator.getAllocatedMemory(), "off-heap bytes still allocated");
    allocator.close();
  }

  private static float[] row(int r, int size) {
    float[] v = new float[size];
    for (int i = 0; i < size; i++) {
      v[i] = r * 1000 + i + 0.5f;
    }
    return v;
  }

  @Test
  void rowsLieContiguouslyInOrderWithTheirLabels() {
    try (BatchBuilder builder = new BatchBuilder(new long[] {1, 2, 3}, 8, true, allocator)) {
      for (int r = 0; r < 5; r++) {
        builder.add(row(r, 6), 10 + r);
      }
      try (Batch batch = builder.build()) {
        assertEquals(5, batch.rows());
        assertEquals(6, batch.rowSize());
        assertArrayEquals(new long[] {5, 1, 2, 3}, batch.shape());
        assertArrayEquals(new long[] {1, 2, 3}, batch.rowShape());
        FloatBuffer f = batch.features();
        assertTrue(f.isDirect());
        assertEquals(ByteOrder.nativeOrder(), f.order());
        assertEquals(0, f.position());
        assertEquals(30, f.limit());
        for (int r = 0; r < 5; r++) {
          float[] expected = row(r, 6);
          for (int i = 0; i < 6; i++) {
            assertEquals(expected[i], f.get(r * 6 + i));
          }
          assertEquals(10 + r, batch.label(r));
        }
        assertTrue(batch.hasLabels());
        assertEquals(30, batch.featureVector().getValueCount());
        assertEquals(expectedFirst(), batch.featureVector().get(0));
      }
    }
  }

  private static float expectedFirst() {
    return row(0, 6)[0];
  }

  @Test
  void featuresViewSharesTheArrowMemory() {
    try (BatchBuilder builder = new BatchBuilder(new long[] {4}, 2, true, allocator)) {
      builder.add(row(0, 4), 0);
      try (Batch batch = builder.build()) {
        batch.featureVector().set(2, 42f);
        assertEquals(42f, batch.features().get(2));
      }
    }
  }

  @Test
  void takesRowsFromInsideALargerArray() {
    float[] matrix = new float[12];
    for (int i = 0; i < matrix.length; i++) {
      matrix[i] = i;
    }
    try (BatchBuilder builder = new BatchBuilder(new long[] {4}, 3, true, allocator)) {
      builder.add(matrix, 8, 2).add(matrix, 0, 0);
      try (Batch batch = builder.build()) {
        float[] got = new float[8];
        batch.features().get(got);
        assertArrayEquals(new float[] {8, 9, 10, 11, 0, 1, 2, 3}, got);
        assertEquals(2, batch.label(0));
        assertEquals(0, batch.label(1));
      }
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> builder.add(matrix, 10, 1));
      assertEquals("features row 2 has only 2 values from offset 10; input shape [4] needs 4",
          e.getMessage());
    }
  }

  @Test
  void refusesARowOfTheWrongLengthNamingColumnAndRow() {
    try (BatchBuilder builder = new BatchBuilder(new long[] {1, 8, 8}, 256, true, allocator)) {
      for (int r = 0; r < 17; r++) {
        builder.add(new float[64], 1);
      }
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> builder.add(new float[63], 1));
      assertEquals("features row 17 has 63 values; input shape [1, 8, 8] needs 64", e.getMessage());
    }
    try (BatchBuilder builder = new BatchBuilder(new long[] {64}, 256, false, allocator)
        .columns("pixels", "digit").startAtRow(1000)) {
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> builder.add(new float[65]));
      assertEquals("pixels row 1000 has 65 values; input shape [64] needs 64", e.getMessage());
    }
  }

  @Test
  void numbersRowsOnAcrossBatches() {
    try (BatchBuilder builder = new BatchBuilder(new long[] {2}, 3, true, allocator)
        .columns("x", "y").startAtRow(100)) {
      for (int r = 0; r < 3; r++) {
        builder.add(row(r, 2), r);
      }
      assertTrue(builder.isFull());
      assertThrows(IllegalStateException.class, () -> builder.add(row(3, 2), 3));
      try (Batch first = builder.build()) {
        assertEquals(100, first.firstRow());
        assertEquals("y", first.labelColumn());
      }
      assertEquals(0, builder.rows());
      builder.add(row(3, 2), 3);
      try (Batch second = builder.build()) {
        assertEquals(103, second.firstRow());
        assertEquals(1, second.rows());
        assertEquals(row(3, 2)[1], second.features().get(1));
      }
      assertThrows(IllegalStateException.class, builder::build);
    }
  }

  @Test
  void takesRowsWithoutLabelsFromInsideALargerArray() {
    float[] matrix = new float[12];
    for (int i = 0; i < matrix.length; i++) {
      matrix[i] = i;
    }
    try (BatchBuilder builder = new BatchBuilder(new long[] {4}, 3, false, allocator)) {
      builder.addUnlabelled(matrix, 4).addUnlabelled(matrix, 0);
      assertThrows(IllegalStateException.class, () -> builder.add(matrix, 8, 1));
      try (Batch batch = builder.build()) {
        float[] got = new float[8];
        batch.features().get(got);
        assertArrayEquals(new float[] {4, 5, 6, 7, 0, 1, 2, 3}, got);
        assertFalse(batch.hasLabels());
      }
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> builder.addUnlabelled(matrix, 9));
      assertEquals("features row 2 has only 3 values from offset 9; input shape [4] needs 4",
          e.getMessage());
    }
    try (BatchBuilder builder = new BatchBuilder(new long[] {4}, 3, true, allocator)) {
      assertThrows(IllegalStateException.class, () -> builder.addUnlabelled(matrix, 0));
    }
  }

  @Test
  void labelFreeBatchesHaveNoLabels() {
    try (BatchBuilder builder = new BatchBuilder(new long[] {3}, 4, false, allocator)) {
      builder.add(row(0, 3));
      assertThrows(IllegalStateException.class, () -> builder.add(row(1, 3), 1));
      try (Batch batch = builder.build()) {
        assertFalse(batch.hasLabels());
        assertThrows(IllegalStateException.class, () -> batch.label(0));
      }
    }
    try (BatchBuilder builder = new BatchBuilder(new long[] {3}, 4, true, allocator)) {
      assertThrows(IllegalStateException.class, () -> builder.add(row(0, 3)));
    }
  }

  @Test
  void closingFreesTheMemoryOfBuiltAndUnbuiltRows() {
    BatchBuilder builder = new BatchBuilder(new long[] {16}, 32, true, allocator);
    builder.add(row(0, 16), 1);
    Batch batch = builder.build();
    builder.add(row(1, 16), 1);
    assertTrue(allocator.getAllocatedMemory() >= 2 * 32 * 16 * 4);
    builder.close();
    batch.close();
    batch.close();
    assertThrows(IllegalStateException.class, batch::features);
    // checkNothingLeaks verifies that every byte is back
  }

  @Test
  void refusesShapesThatCannotHoldRows() {
    assertThrows(IllegalArgumentException.class,
        () -> new BatchBuilder(new long[] {0, 8}, 4, true, allocator));
    assertThrows(IllegalArgumentException.class,
        () -> new BatchBuilder(new long[] {8}, 0, true, allocator));
    assertThrows(IllegalArgumentException.class,
        () -> new BatchBuilder(new long[] {1 << 20}, 1 << 10, true, allocator));
  }
}
