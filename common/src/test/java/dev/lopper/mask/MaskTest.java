package dev.lopper.mask;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

class MaskTest {

  private static final long[] SHAPE = {2, 3};

  private static BitSet bits(int... indices) {
    BitSet set = new BitSet();
    for (int i : indices) {
      set.set(i);
    }
    return set;
  }

  /**
   * Writing only where two masks differ gives the same bytes as a fresh masked copy, whatever the
   * masks (nested as a magnitude grid's are, or not), across word boundaries and a ragged end.
   */
  @Test
  void applyOverAnotherMaskEqualsAFreshCopy() {
    int n = 1000;
    float[] values = new float[n];
    java.util.SplittableRandom random = new java.util.SplittableRandom(7);
    for (int i = 0; i < n; i++) {
      values[i] = (float) random.nextDouble(-1, 1);
    }
    WeightTensor w = WeightTensor.of("w", new long[] {10, 100}, values);
    FloatBuffer buffer = WeightTensor.allocate(n);
    Mask previous = null;
    for (int step = 0; step < 12; step++) {
      BitSet bits = new BitSet(n);
      double density = step / 12.0;
      for (int i = 0; i < n; i++) {
        if (random.nextDouble() < density) {
          bits.set(i);
        }
      }
      Mask mask = new Mask("w", new long[] {10, 100}, bits);
      WeightTensor expected = mask.apply(w);
      WeightTensor actual = previous == null ? mask.apply(w, buffer) : mask.applyOver(w, buffer, previous);
      float[] e = new float[n];
      float[] a = new float[n];
      expected.data().duplicate().get(e);
      actual.data().duplicate().get(a);
      assertArrayEquals(e, a, "step " + step);
      previous = mask;
    }
    assertThrows(InvalidInputException.class, () -> new Mask("v", new long[] {10, 100}, new BitSet())
        .applyOver(w, buffer, new Mask("w", new long[] {10, 100}, new BitSet())));
  }

  @Test
  void countsPrunedAndKeptPositions() {
    Mask mask = new Mask("w", SHAPE, bits(1, 4));
    assertEquals(6, mask.size());
    assertEquals(2, mask.prunedCount());
    assertEquals(4, mask.keptCount());
    assertEquals(4.0 / 6.0, mask.density());
    assertTrue(mask.isPruned(4));
    assertFalse(mask.isPruned(5));
    assertEquals(1.0, Mask.none("w", SHAPE).density());
  }

  @Test
  void isImmutable() {
    BitSet pruned = bits(0);
    long[] shape = SHAPE.clone();
    Mask mask = new Mask("w", shape, pruned);
    pruned.set(1);
    shape[0] = 7;
    mask.pruned().set(2);
    mask.shape()[1] = 9;
    assertEquals(bits(0), mask.pruned());
    assertArrayEquals(SHAPE, mask.shape());
  }

  @Test
  void refusesPositionsBeyondTheShape() {
    assertThrows(IllegalArgumentException.class, () -> new Mask("w", SHAPE, bits(6)));
  }

  @Test
  void applySetsPrunedPositionsToZero() {
    WeightTensor w = WeightTensor.of("w", SHAPE, new float[] {1f, -2f, 3f, -4f, 5f, -6f});
    WeightTensor pruned = new Mask("w", SHAPE, bits(1, 4)).apply(w);
    assertArrayEquals(new float[] {1f, 0f, 3f, -4f, 0f, -6f}, pruned.toArray());
    assertArrayEquals(SHAPE, pruned.shape());
    assertArrayEquals(new float[] {1f, -2f, 3f, -4f, 5f, -6f}, w.toArray(), "input unchanged");
  }

  @Test
  void applyIntoABufferOverwritesItWholly() {
    WeightTensor w = WeightTensor.of("w", SHAPE, new float[] {1f, -2f, 3f, -4f, 5f, -6f});
    FloatBuffer buffer = WeightTensor.allocate(6);
    WeightTensor first = new Mask("w", SHAPE, bits(1, 4)).apply(w, buffer);
    assertArrayEquals(new float[] {1f, 0f, 3f, -4f, 0f, -6f}, first.toArray());
    // A second mask into the same buffer: no zero of the first is left behind.
    WeightTensor second = new Mask("w", SHAPE, bits(0)).apply(w, buffer);
    assertArrayEquals(new float[] {0f, -2f, 3f, -4f, 5f, -6f}, second.toArray());
    assertArrayEquals(new float[] {1f, -2f, 3f, -4f, 5f, -6f}, w.toArray(), "input unchanged");
    Mask mask = Mask.none("w", SHAPE);
    assertThrows(IllegalArgumentException.class, () -> mask.apply(w, WeightTensor.allocate(5)));
    assertThrows(IllegalArgumentException.class, () -> mask.apply(w, FloatBuffer.allocate(6)));
  }

  @Test
  void applyRefusesAnotherTensor() {
    Mask mask = Mask.none("w", SHAPE);
    assertThrows(InvalidInputException.class,
        () -> mask.apply(WeightTensor.zeros("v", SHAPE)));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> mask.apply(WeightTensor.zeros("w", new long[] {3, 2})));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
  }

  @Test
  void boolBytesAreOneForKeptAndZeroForPruned() {
    ByteBuffer bytes = new Mask("w", SHAPE, bits(0, 5)).toBoolBytes();
    byte[] array = new byte[bytes.remaining()];
    bytes.get(array);
    assertArrayEquals(new byte[] {0, 1, 1, 1, 1, 0}, array);
  }

  @Test
  void readsBoolBytes() {
    Mask mask = Mask.fromBoolBytes("w", SHAPE, ByteBuffer.wrap(new byte[] {1, 0, 0, 1, 1, 1}));
    assertEquals(new Mask("w", SHAPE, bits(1, 2)), mask);
  }

  @Test
  void refusesBoolBytesOtherThanZeroAndOne() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Mask.fromBoolBytes("w", SHAPE, ByteBuffer.wrap(new byte[] {1, 0, 2, 1, 1, 1})));
    assertTrue(e.getMessage().contains("w") && e.getMessage().contains("value 2")
        && e.getMessage().contains("flat index 2"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> Mask.fromBoolBytes("w", SHAPE, ByteBuffer.wrap(new byte[5])));
  }

  /**
   * A mask made from words (as the magnitude selection makes them) is the mask of the same bit
   * set: trailing zero words do not matter, and every reading agrees with the BitSet's.
   */
  @Test
  void aMaskFromWordsEqualsTheMaskOfTheSameBits() {
    long[] shape = {3, 50};
    BitSet set = bits(0, 63, 64, 100, 149);
    Mask fromBits = new Mask("w", shape, set);
    Mask fromWords = Mask.ofWords("w", shape, new long[] {set.toLongArray()[0], set.toLongArray()[1],
        set.toLongArray()[2], 0L});
    assertEquals(fromBits, fromWords);
    assertEquals(fromBits.hashCode(), fromWords.hashCode());
    assertEquals(set, fromWords.pruned());
    assertEquals(5, fromWords.prunedCount());
    for (int i = 0; i < 150; i++) {
      assertEquals(set.get(i), fromWords.isPruned(i), "position " + i);
    }
    assertEquals(fromBits.toBoolBytes(), fromWords.toBoolBytes());
    assertEquals(Mask.none("w", shape), Mask.ofWords("w", shape, new long[3]));
    assertThrows(IllegalArgumentException.class,
        () -> Mask.ofWords("w", shape, new long[] {0, 0, 1L << 22}));
  }
}
