package dev.lopper.data;

import java.nio.Buffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;

/**
 * One named input tensor of a {@link Batch}: its element type, its shape {@code [rows, ...]} and
 * its values, row-major in one Arrow vector that ONNX Runtime reads in place through
 * {@link #buffer()}.
 *
 * <p>Owned by its batch, which closes it.
 */
public final class BatchInput {

  /** The element types a batch input can have, as ONNX names them. */
  public enum ElementType {
    /** 32-bit float ({@link Float4Vector}). */
    FLOAT(Float.BYTES),
    /** 64-bit integer ({@link BigIntVector}), what token ids and attention masks usually are. */
    INT64(Long.BYTES),
    /** 32-bit integer ({@link IntVector}). */
    INT32(Integer.BYTES);

    private final int bytes;

    ElementType(int bytes) {
      this.bytes = bytes;
    }

    /** Bytes per value. */
    public int bytes() {
      return bytes;
    }
  }

  private final String name;
  private final ElementType type;
  private final long[] shape;
  private final FieldVector vector;
  private final int size;

  BatchInput(String name, ElementType type, long[] shape, FieldVector vector) {
    this.name = name;
    this.type = type;
    this.shape = shape.clone();
    this.vector = vector;
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    this.size = Math.toIntExact(n);
  }

  /** The model input (or, for a one-input batch, the column) these values feed. */
  public String name() {
    return name;
  }

  /** The element type. */
  public ElementType type() {
    return type;
  }

  /** The whole tensor's shape, rows first. */
  public long[] shape() {
    return shape.clone();
  }

  /** Number of values. */
  public int size() {
    return size;
  }

  /**
   * A direct, native-order view of the values sharing the batch's memory (no copy): a
   * {@link java.nio.FloatBuffer}, {@link java.nio.LongBuffer} or {@link java.nio.IntBuffer} by
   * {@link #type()}, positioned at 0.
   */
  public Buffer buffer() {
    var bytes = vector.getDataBuffer().nioBuffer(0, Math.multiplyExact(size, type.bytes()))
        .order(ByteOrder.nativeOrder());
    return switch (type) {
      case FLOAT -> bytes.asFloatBuffer();
      case INT64 -> bytes.asLongBuffer();
      case INT32 -> bytes.asIntBuffer();
    };
  }

  /** Value {@code index} of an integer input. */
  public long integer(int index) {
    return switch (type) {
      case INT64 -> ((BigIntVector) vector).get(index);
      case INT32 -> ((IntVector) vector).get(index);
      case FLOAT -> throw new IllegalStateException("input " + name + " holds floats");
    };
  }

  /** The Arrow vector holding the values; owned by the batch. */
  public FieldVector vector() {
    return vector;
  }

  void close() {
    vector.close();
  }

  @Override
  public String toString() {
    return name + " " + type.name().toLowerCase(java.util.Locale.ROOT) + Arrays.toString(shape);
  }
}
