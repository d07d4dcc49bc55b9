package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.mask.Mask;
import dev.lopper.model.WeightTensor;
import java.util.BitSet;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Slicing a tensor and masking it keep and drop the same positions, worked out by hand. */
class TensorSliceTest {

  @Test
  void keepsTheCrossOfTheKeptIndicesOnEveryAxis() {
    // w[i][j][k] = 100 i + 10 j + k, shape [3, 4, 2]
    float[] values = new float[24];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 4; j++) {
        for (int k = 0; k < 2; k++) {
          values[i * 8 + j * 2 + k] = 100 * i + 10 * j + k;
        }
      }
    }
    WeightTensor w = WeightTensor.of("w", new long[] {3, 4, 2}, values);
    TensorSlice slice = TensorSlice.full("w", w.shape()).keepOnly(0, new int[] {0, 2}).keepOnly(1, new int[] {1, 3})
        .keepOnly(1, new int[] {0, 1, 2, 3});
    assertArrayEquals(new long[] {2, 2, 2}, slice.keptShape());
    WeightTensor kept = slice.apply(w);
    assertArrayEquals(new float[] {10, 11, 30, 31, 210, 211, 230, 231}, kept.toArray());

    Mask mask = slice.mask();
    BitSet expectedKept = new BitSet();
    IntStream.of(2, 3, 6, 7, 18, 19, 22, 23).forEach(expectedKept::set);
    BitSet pruned = new BitSet();
    pruned.set(0, 24);
    pruned.andNot(expectedKept);
    assertEquals(pruned, mask.pruned());
  }
}
