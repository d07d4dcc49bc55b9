package dev.lopper.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;

/**
 * The safetensors format (an 8-byte little-endian header length, a JSON header, then the raw
 * little-endian tensor bytes), read and written through {@link HadoopFiles}.
 *
 * <p>Reading checks the header before trusting it: a header length larger than the file or than
 * {@value #MAX_HEADER_BYTES} bytes is refused without allocating it, and every tensor's offsets
 * must lie inside the file, match its dtype and shape, and not overlap another tensor's.
 *
 * <pre>{@code
 * Safetensors.File file = Safetensors.open("hdfs:///models/cnn.safetensors", conf);
 * WeightTensor w = file.readFloat("conv1.weight");
 * }</pre>
 */
public final class Safetensors {

  /** Largest header accepted; the format's own reference implementation allows 100 MB. */
  public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private static final ObjectMapper JSON = new ObjectMapper();

  private Safetensors() {}

  /** One tensor listed in a file's header; offsets are relative to the start of the data. */
  public record Entry(String name, String dtype, long[] shape, long begin, long end) {
    public Entry {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** Number of elements. */
    public long elementCount() {
      return WeightTensor.elementCount(shape);
    }
  }

  /** A tensor to write: name, dtype (F32, BOOL, ...), shape and its little-endian bytes. */
  public record Payload(String name, String dtype, long[] shape, ByteBuffer data) {
    public Payload {
      shape = shape.clone();
      long expected = Math.multiplyExact(WeightTensor.elementCount(shape), dtypeSize(dtype));
      if (data.remaining() != expected) {
        throw new IllegalArgumentException("tensor " + name + ": " + data.remaining()
            + " bytes, dtype " + dtype + " and shape " + Arrays.toString(shape) + " need " + expected);
      }
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** A float32 payload holding {@code tensor}'s values. */
    public static Payload f32(WeightTensor tensor) {
      ByteBuffer bytes = ByteBuffer.allocate(tensor.size() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      bytes.asFloatBuffer().put(tensor.data().duplicate());
      return new Payload(tensor.name(), "F32", tensor.shape(), bytes);
    }
  }

  /** An opened safetensors file: its header is parsed and checked; tensors are read on demand. */
  public static final class File {
    private final String path;
    private final Configuration conf;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private File(String path, Configuration conf, long dataStart, Map<String, Entry> entries,
        Map<String, String> metadata) {
      this.path = path;
      this.conf = conf;
      this.dataStart = dataStart;
      this.entries = entries;
      this.metadata = metadata;
    }

    /** The file's path. */
    public String path() {
      return path;
    }

    /** The tensors in the header, in header order. */
    public Map<String, Entry> entries() {
      return Collections.unmodifiableMap(entries);
    }

    /** The header's {@code __metadata__} strings (empty when absent). */
    public Map<String, String> metadata() {
      return Collections.unmodifiableMap(metadata);
    }

    /**
     * Reads a floating-point tensor (F32, F16, BF16 or F64) as float32. A missing tensor or one of
     * another dtype is bad input naming the file and tensor.
     */
    public WeightTensor readFloat(String name) {
      Entry entry = entries.get(name);
      if (entry == null) {
        throw new InvalidInputException(path + ": no tensor named " + name);
      }
      int count = Math.toIntExact(entry.elementCount());
      FloatBuffer out = WeightTensor.allocate(count);
      if (entry.dtype().equals("F32")) {
        readFloats(entry, out);
        return new WeightTensor(name, entry.shape(), out.flip());
      }
      ByteBuffer raw = readBytes(entry);
      switch (entry.dtype()) {
        case "F64" -> {
          for (int i = 0; i < count; i++) {
            out.put((float) raw.getDouble(i * 8));
          }
        }
        case "F16" -> {
          for (int i = 0; i < count; i++) {
            out.put(halfToFloat(raw.getShort(i * 2)));
          }
        }
        case "BF16" -> {
          for (int i = 0; i < count; i++) {
            out.put(Float.intBitsToFloat((raw.getShort(i * 2) & 0xffff) << 16));
          }
        }
        default -> throw new InvalidInputException(path + ": tensor " + name + " has dtype "
            + entry.dtype() + ", expected a floating-point dtype (F32, F16, BF16, F64)");
      }
      out.flip();
      return new WeightTensor(name, entry.shape(), out);
    }

    /**
     * Reads an F32 tensor into {@code out} a few MiB at a time, so that a large model's weights
     * pass through the heap in small pieces rather than as one array per tensor.
     */
    private void readFloats(Entry entry, FloatBuffer out) {
      long length = entry.end() - entry.begin();
      if (length != (long) out.remaining() * Float.BYTES) {
        throw new InvalidInputException(path + ": tensor " + entry.name() + " holds " + length
            + " bytes, its shape " + Arrays.toString(entry.shape()) + " F32 needs "
            + (long) out.remaining() * Float.BYTES);
      }
      byte[] chunk = new byte[(int) Math.min(length, 8 << 20)];
      ByteBuffer view = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
      try (FSDataInputStream in = HadoopFiles.open(path, conf)) {
        for (long done = 0; done < length; ) {
          int n = (int) Math.min(chunk.length, length - done);
          in.readFully(dataStart + entry.begin() + done, chunk, 0, n);
          out.put(view.limit(n).position(0).asFloatBuffer());
          done += n;
        }
      } catch (IOException e) {
        throw new InvalidInputException(path + ": cannot read tensor " + entry.name() + ": " + e.getMessage(), e);
      }
    }

    /** The raw little-endian bytes of a tensor. */
    public ByteBuffer readBytes(Entry entry) {
      long length = entry.end() - entry.begin();
      if (length > Integer.MAX_VALUE) {
        throw new InvalidInputException(path + ": tensor " + entry.name() + " is larger than 2 GiB");
      }
      byte[] bytes = new byte[(int) length];
      try (FSDataInputStream in = HadoopFiles.open(path, conf)) {
        in.readFully(dataStart + entry.begin(), bytes);
      } catch (IOException e) {
        throw new InvalidInputException(path + ": cannot read tensor " + entry.name() + ": " + e.getMessage(), e);
      }
      return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
  }

  /** Opens {@code path} and checks its header; every problem is bad input naming the file. */
  public static File open(String path, Configuration conf) {
    long fileLength = HadoopFiles.length(path, conf);
    if (fileLength < 8) {
      throw new InvalidInputException(path + ": not a safetensors file (" + fileLength
          + " bytes, shorter than the 8-byte header length)");
    }
    try (FSDataInputStream in = HadoopFiles.open(path, conf)) {
      byte[] lengthBytes = new byte[8];
      in.readFully(0, lengthBytes);
      long headerLength = ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
      if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES || headerLength > fileLength - 8) {
        throw new InvalidInputException(path + ": not a safetensors file: header length "
            + Long.toUnsignedString(headerLength) + " bytes, but the file has " + fileLength
            + " bytes and headers are at most " + MAX_HEADER_BYTES);
      }
      byte[] header = new byte[(int) headerLength];
      in.readFully(8, header);
      return parseHeader(path, conf, header, 8 + headerLength, fileLength - 8 - headerLength);
    } catch (IOException e) {
      throw new InvalidInputException(path + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static File parseHeader(String path, Configuration conf, byte[] header, long dataStart,
      long dataLength) {
    JsonNode root;
    try {
      root = JSON.readTree(new String(header, StandardCharsets.UTF_8).trim());
    } catch (IOException e) {
      throw new InvalidInputException(path + ": not a safetensors file: header is not JSON ("
          + e.getMessage().lines().findFirst().orElse("") + ")");
    }
    if (root == null || !root.isObject()) {
      throw new InvalidInputException(path + ": not a safetensors file: header is not a JSON object");
    }
    Map<String, Entry> entries = new LinkedHashMap<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      String name = field.getKey();
      JsonNode node = field.getValue();
      if (name.equals("__metadata__")) {
        node.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        continue;
      }
      entries.put(name, parseEntry(path, name, node, dataLength));
    }
    List<Entry> byOffset = new ArrayList<>(entries.values());
    byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    for (int i = 1; i < byOffset.size(); i++) {
      Entry previous = byOffset.get(i - 1);
      Entry current = byOffset.get(i);
      if (current.begin() < previous.end()) {
        throw new InvalidInputException(path + ": tensors " + previous.name() + " (bytes "
            + previous.begin() + "-" + previous.end() + ") and " + current.name() + " (bytes "
            + current.begin() + "-" + current.end() + ") overlap");
      }
    }
    return new File(path, conf, dataStart, entries, metadata);
  }

  private static Entry parseEntry(String path, String name, JsonNode node, long dataLength) {
    JsonNode dtypeNode = node.get("dtype");
    JsonNode shapeNode = node.get("shape");
    JsonNode offsets = node.get("data_offsets");
    if (dtypeNode == null || !dtypeNode.isTextual() || shapeNode == null || !shapeNode.isArray()
        || offsets == null || !offsets.isArray() || offsets.size() != 2
        || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
      throw new InvalidInputException(path + ": tensor " + name
          + ": header entry needs dtype, shape and two data_offsets, found " + node);
    }
    String dtype = dtypeNode.asText();
    long elementSize;
    try {
      elementSize = dtypeSize(dtype);
    } catch (IllegalArgumentException e) {
      throw new InvalidInputException(path + ": tensor " + name + ": unknown dtype " + dtype);
    }
    long[] shape = new long[shapeNode.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = shapeNode.get(i);
      if (!d.canConvertToLong() || d.asLong() < 0) {
        throw new InvalidInputException(path + ": tensor " + name + ": bad shape " + shapeNode);
      }
      shape[i] = d.asLong();
    }
    long begin = offsets.get(0).asLong();
    long end = offsets.get(1).asLong();
    if (begin < 0 || end < begin || end > dataLength) {
      throw new InvalidInputException(path + ": tensor " + name + ": data offsets [" + begin + ", "
          + end + "] run outside the data section (" + dataLength + " bytes)");
    }
    long expected;
    try {
      expected = Math.multiplyExact(WeightTensor.elementCount(shape), elementSize);
    } catch (ArithmeticException e) {
      throw new InvalidInputException(path + ": tensor " + name + ": shape " + shapeNode + " is too large");
    }
    if (end - begin != expected) {
      throw new InvalidInputException(path + ": tensor " + name + ": " + (end - begin)
          + " bytes of data, but dtype " + dtype + " and shape " + Arrays.toString(shape)
          + " need " + expected);
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  /**
   * Writes tensors to {@code path}, atomically: the file is complete or absent. The header lists
   * the tensors in the given order and is padded with spaces to a multiple of 8 bytes.
   */
  public static void write(String path, Configuration conf, List<Payload> tensors,
      Map<String, String> metadata) {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      // Sorted: the same file for the same content, whatever the map's own order (Map.of's varies by JVM).
      new java.util.TreeMap<>(metadata).forEach(meta::put);
    }
    long offset = 0;
    for (Payload tensor : tensors) {
      ObjectNode node = header.putObject(tensor.name());
      node.put("dtype", tensor.dtype());
      var shape = node.putArray("shape");
      for (long d : tensor.shape()) {
        shape.add(d);
      }
      long length = tensor.data().remaining();
      node.putArray("data_offsets").add(offset).add(offset + length);
      offset += length;
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int padded = (json.length + 7) / 8 * 8;
    byte[] headerBytes = Arrays.copyOf(json, padded);
    Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
    HadoopFiles.writeAtomically(path, conf, out -> {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
      out.write(headerBytes);
      for (Payload tensor : tensors) {
        writeBuffer(out, tensor.data().duplicate());
      }
    });
  }

  private static void writeBuffer(OutputStream out, ByteBuffer data) throws IOException {
    if (data.hasArray()) {
      out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
      return;
    }
    byte[] chunk = new byte[1 << 16];
    while (data.hasRemaining()) {
      int n = Math.min(chunk.length, data.remaining());
      data.get(chunk, 0, n);
      out.write(chunk, 0, n);
    }
  }

  /** Bytes per element of a safetensors dtype. */
  public static int dtypeSize(String dtype) {
    return switch (dtype) {
      case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3" -> 1;
      case "F16", "BF16", "I16", "U16" -> 2;
      case "F32", "I32", "U32" -> 4;
      case "F64", "I64", "U64" -> 8;
      default -> throw new IllegalArgumentException("unknown safetensors dtype " + dtype);
    };
  }

  /** IEEE 754 half precision to float (Java 17 has no {@code Float.float16ToFloat}). */
  static float halfToFloat(short half) {
    int h = half & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      if (mantissa == 0) {
        return Float.intBitsToFloat(sign);
      }
      float value = mantissa * 0x1p-24f;
      return sign != 0 ? -value : value;
    }
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
}
