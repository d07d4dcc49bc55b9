package dev.lopper.mask;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaskSetTest {

  private static final Configuration CONF = new Configuration();

  private static BitSet bits(int... indices) {
    BitSet set = new BitSet();
    for (int i : indices) {
      set.set(i);
    }
    return set;
  }

  private static final Mask FC = new Mask("fc.weight", new long[] {2, 3}, bits(0, 4));
  private static final Mask CONV = new Mask("conv.weight", new long[] {2, 1, 2, 2}, bits(1, 2, 3, 7));

  @Test
  void sumsCountsOverMasks() {
    MaskSet set = MaskSet.of(FC, CONV);
    assertEquals(6, set.totalPruned());
    assertEquals(14, set.totalParameters());
    assertEquals(6.0 / 14.0, set.sparsity());
    assertEquals(0.0, MaskSet.empty().sparsity());
  }

  @Test
  void keepsTheGivenOrderAndRefusesDuplicateNames() {
    assertEquals(List.of("fc.weight", "conv.weight"), List.copyOf(MaskSet.of(FC, CONV).names()));
    assertEquals(List.of("conv.weight", "fc.weight"), List.copyOf(MaskSet.of(CONV, FC).names()));
    assertThrows(IllegalArgumentException.class, () -> MaskSet.of(FC, Mask.none("fc.weight", new long[] {1})));
  }

  @Test
  void mergeAppendsDisjointSets() {
    MaskSet merged = MaskSet.of(FC).merge(MaskSet.of(CONV));
    assertEquals(MaskSet.of(FC, CONV), merged);
    assertThrows(IllegalArgumentException.class, () -> merged.merge(MaskSet.of(FC)));
  }

  @Test
  void applyReplacesOnlyMaskedTensors() {
    Map<String, WeightTensor> weights = new LinkedHashMap<>();
    weights.put("fc.weight", WeightTensor.of("fc.weight", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
    weights.put("fc.bias", WeightTensor.of("fc.bias", new long[] {2}, new float[] {1, 2}));
    Map<String, WeightTensor> replaced = MaskSet.of(FC).apply(weights);
    assertEquals(List.of("fc.weight"), List.copyOf(replaced.keySet()));
    assertArrayEquals(new float[] {0, 2, 3, 4, 0, 6}, replaced.get("fc.weight").toArray());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MaskSet.of(CONV).apply(weights));
    assertTrue(e.getMessage().contains("conv.weight"), e.getMessage());
  }

  @Test
  void summaryHasOneRowPerMask() {
    Table table = MaskSet.of(FC, CONV).summary(Map.of());
    assertEquals(List.of("tensor", "shape", "parameters", "kept", "pruned", "density"),
        table.columns().stream().map(Table.Column::name).toList());
    assertEquals(Table.Type.LONG_LIST, table.columns().get(1).type());
    List<Object> conv = table.rows().get(1);
    assertEquals("conv.weight", conv.get(0));
    assertArrayEquals(new long[] {2, 1, 2, 2}, (long[]) conv.get(1));
    assertEquals(List.of(8L, 4L, 4L, 0.5), conv.subList(2, 6));
  }

  @Test
  void summaryHasANodeColumnOnlyWhenATensorHasAReadableName() {
    Mask anonymous = new Mask("onnx::MatMul_7", new long[] {3, 2}, bits(0, 5));
    Map<String, String> readable = Map.of("onnx::MatMul_7", "/fc2/MatMul");
    assertEquals(List.of("tensor", "shape", "parameters", "kept", "pruned", "density"),
        MaskSet.of(FC, CONV).summary(readable).columns().stream().map(Table.Column::name).toList(),
        "no mask's tensor has a readable name: no column");
    Table named = MaskSet.of(FC, anonymous).summary(readable);
    assertEquals(List.of("tensor", "node", "shape", "parameters", "kept", "pruned", "density"),
        named.columns().stream().map(Table.Column::name).toList());
    assertEquals(Arrays.asList("fc.weight", null), named.rows().get(0).subList(0, 2));
    assertEquals(List.of("onnx::MatMul_7", "/fc2/MatMul"), named.rows().get(1).subList(0, 2));
    assertEquals(MaskSet.of(FC, anonymous).summaryRows(readable), MaskSummaryRow.SCHEMA.rows(named));
  }

  @Test
  void roundTripsThroughSafetensors(@TempDir Path dir) {
    Random random = new Random(3);
    BitSet big = new BitSet();
    for (int i = 0; i < 1000; i++) {
      if (random.nextBoolean()) {
        big.set(i);
      }
    }
    MaskSet masks = MaskSet.of(FC, CONV, new Mask("big", new long[] {10, 100}, big),
        Mask.none("empty", new long[] {0}));
    String path = dir.resolve("masks.safetensors").toString();
    masks.writeSafetensors(path, CONF);

    MaskSet read = MaskSet.readSafetensors(path, CONF);
    assertEquals(masks, read);
    assertEquals(List.copyOf(masks.names()), List.copyOf(read.names()));

    // The file itself: BOOL tensors named like the weights, 1 = kept and 0 = pruned.
    Safetensors.File file = Safetensors.open(path, CONF);
    Safetensors.Entry fc = file.entries().get("fc.weight");
    assertEquals("BOOL", fc.dtype());
    assertArrayEquals(new long[] {2, 3}, fc.shape());
    ByteBuffer bytes = file.readBytes(fc);
    byte[] array = new byte[bytes.remaining()];
    bytes.get(array);
    assertArrayEquals(new byte[] {0, 1, 1, 1, 0, 1}, array);
  }

  @Test
  void readsU8Masks(@TempDir Path dir) {
    String path = dir.resolve("u8.safetensors").toString();
    Safetensors.write(path, CONF, List.of(new Safetensors.Payload("w", "U8", new long[] {3},
        ByteBuffer.wrap(new byte[] {1, 0, 1}))), Map.of());
    assertEquals(MaskSet.of(new Mask("w", new long[] {3}, bits(1))), MaskSet.readSafetensors(path, CONF));
  }

  @Test
  void refusesMaskFileHoldingTwo(@TempDir Path dir) {
    String path = dir.resolve("bad.safetensors").toString();
    Safetensors.write(path, CONF, List.of(new Safetensors.Payload("layer.weight", "BOOL",
        new long[] {4}, ByteBuffer.wrap(new byte[] {1, 0, 2, 1}))), Map.of());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MaskSet.readSafetensors(path, CONF));
    assertTrue(e.getMessage().contains(path) && e.getMessage().contains("layer.weight")
        && e.getMessage().contains("value 2"), e.getMessage());
  }

  @Test
  void refusesMaskFileOfFloats(@TempDir Path dir) {
    String path = dir.resolve("floats.safetensors").toString();
    Safetensors.write(path, CONF, List.of(Safetensors.Payload.f32(
        WeightTensor.of("w", new long[] {2}, new float[] {1, 0}))), Map.of());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MaskSet.readSafetensors(path, CONF));
    assertTrue(e.getMessage().contains(path) && e.getMessage().contains("F32"), e.getMessage());
  }
}
