package dev.lopper.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  /** A file with the given header and data section, as the format lays it out. */
  private Path rawFile(String name, long headerLength, String header, byte[] data) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLength).array());
    out.write(header.getBytes(StandardCharsets.UTF_8));
    out.write(data);
    Path file = dir.resolve(name);
    Files.write(file, out.toByteArray());
    return file;
  }

  private Path validFile(String header, byte[] data) throws Exception {
    return rawFile("t.safetensors", header.getBytes(StandardCharsets.UTF_8).length, header, data);
  }

  @Test
  void readsLittleEndianFloat32AsWrittenByTheFormat() throws Exception {
    ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    data.putFloat(1.5f).putFloat(-2f).putFloat(0.25f).putFloat(3e-8f);
    Path file = validFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", data.array());
    WeightTensor w = Safetensors.open(file.toString(), conf).readFloat("w");
    assertArrayEquals(new long[] {2, 2}, w.shape());
    assertArrayEquals(new float[] {1.5f, -2f, 0.25f, 3e-8f}, w.toArray());
  }

  @Test
  void convertsHalfAndBfloat16() throws Exception {
    // 0x3C00 = 1.0, 0xC000 = -2.0, 0x0001 = smallest subnormal 2^-24, 0x7BFF = 65504 (IEEE half);
    // bf16 0x3FC0 = 1.5, 0xC020 = -2.5.
    ByteBuffer data = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    data.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001).putShort((short) 0x7BFF);
    data.putShort((short) 0x3FC0).putShort((short) 0xC020);
    Path file = validFile("{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}", data.array());
    Safetensors.File st = Safetensors.open(file.toString(), conf);
    assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, 65504f}, st.readFloat("h").toArray());
    assertArrayEquals(new float[] {1.5f, -2.5f}, st.readFloat("b").toArray());
  }

  @Test
  void refusesAbsurdHeaderLengthWithoutAllocatingIt() throws Exception {
    Path file = rawFile("huge.safetensors", Long.MAX_VALUE / 3, "{}", new byte[0]);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Safetensors.open(file.toString(), conf));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("header length"), e.getMessage());
  }

  @Test
  void refusesHeaderLongerThanTheFile() throws Exception {
    Path file = rawFile("short.safetensors", 1000, "{}", new byte[0]);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Safetensors.open(file.toString(), conf));
    assertTrue(e.getMessage().contains("header length 1000"), e.getMessage());
  }

  @Test
  void refusesOverlappingTensors() throws Exception {
    Path file = validFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Safetensors.open(file.toString(), conf));
    assertTrue(e.getMessage().contains("overlap") && e.getMessage().contains("a") && e.getMessage().contains("b"),
        e.getMessage());
  }

  @Test
  void refusesOffsetsPastTheEndOfTheFile() throws Exception {
    Path file = validFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Safetensors.open(file.toString(), conf));
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("outside"), e.getMessage());
  }

  @Test
  void refusesByteCountThatDoesNotMatchShape() throws Exception {
    Path file = validFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Safetensors.open(file.toString(), conf));
    assertTrue(e.getMessage().contains("need 12"), e.getMessage());
  }

  @Test
  void refusesNonJsonHeaderAndTinyFiles() throws Exception {
    Path notJson = validFile("this is not json", new byte[0]);
    assertThrows(InvalidInputException.class, () -> Safetensors.open(notJson.toString(), conf));
    Path tiny = dir.resolve("tiny.safetensors");
    Files.write(tiny, new byte[3]);
    assertThrows(InvalidInputException.class, () -> Safetensors.open(tiny.toString(), conf));
  }

  @Test
  void writesWhatItReadsBackIncludingBool() throws Exception {
    WeightTensor w = WeightTensor.of("layer.weight", new long[] {2, 3}, new float[] {1, 2, 3, -4, 5.5f, 0});
    ByteBuffer mask = ByteBuffer.wrap(new byte[] {1, 0, 1, 1, 0, 1});
    String path = dir.resolve("out.safetensors").toString();
    Safetensors.write(path, conf, List.of(Safetensors.Payload.f32(w),
        new Safetensors.Payload("layer.mask", "BOOL", new long[] {2, 3}, mask)), Map.of("format", "pt"));

    byte[] bytes = Files.readAllBytes(Path.of(path));
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, headerLength % 8, "header padded to 8 bytes");
    Safetensors.File st = Safetensors.open(path, conf);
    assertEquals(List.of("layer.weight", "layer.mask"), List.copyOf(st.entries().keySet()));
    assertEquals("pt", st.metadata().get("format"));
    assertArrayEquals(w.toArray(), st.readFloat("layer.weight").toArray());
    ByteBuffer back = st.readBytes(st.entries().get("layer.mask"));
    assertArrayEquals(mask.array(), java.util.Arrays.copyOfRange(back.array(), 0, 6));
    assertFalse(Files.list(dir).anyMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temp file left");
  }

  @Test
  void writesTheSameBytesWhateverTheMetadataMapsOrder() throws Exception {
    WeightTensor w = WeightTensor.of("w", new long[] {2}, new float[] {1, 2});
    java.util.LinkedHashMap<String, String> one = new java.util.LinkedHashMap<>();
    one.put("producer", "lopper");
    one.put("format", "pt");
    java.util.LinkedHashMap<String, String> other = new java.util.LinkedHashMap<>();
    other.put("format", "pt");
    other.put("producer", "lopper");
    String a = dir.resolve("a.safetensors").toString();
    String b = dir.resolve("b.safetensors").toString();
    Safetensors.write(a, conf, List.of(Safetensors.Payload.f32(w)), one);
    Safetensors.write(b, conf, List.of(Safetensors.Payload.f32(w)), other);
    assertArrayEquals(Files.readAllBytes(Path.of(a)), Files.readAllBytes(Path.of(b)));
    assertTrue(new String(Files.readAllBytes(Path.of(a)), StandardCharsets.UTF_8)
        .contains("{\"format\":\"pt\",\"producer\":\"lopper\"}"), "keys in sorted order");
  }
}
