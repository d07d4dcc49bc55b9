package dev.lopper.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * A named float32 tensor held in direct (off-heap) memory in native byte order, row-major.
 *
 * <p>The buffer is handed to ONNX Runtime as it is (no copy), so it must stay direct, start at
 * position 0 and have a limit equal to {@link #size()}. Treat a tensor as immutable once built:
 * pruning makes a new tensor.
 *
 * @param name the initializer's name in the ONNX graph (the PyTorch state-dict name when the
 *     export kept it)
 * @param shape dimensions, row-major
 * @param data the values, {@code product(shape)} floats
 */
public record WeightTensor(String name, long[] shape, FloatBuffer data) {

  public WeightTensor {
    shape = shape.clone();
    long n = elementCount(shape);
    if (!data.isDirect() || data.order() != ByteOrder.nativeOrder()) {
      throw new IllegalArgumentException("tensor " + name + ": buffer must be direct and in native order");
    }
    if (data.position() != 0 || data.limit() != n) {
      throw new IllegalArgumentException("tensor " + name + ": buffer holds " + data.limit()
          + " floats from position " + data.position() + ", shape " + Arrays.toString(shape)
          + " needs " + n);
    }
  }

  /** A zero-filled tensor of the given shape. */
  public static WeightTensor zeros(String name, long[] shape) {
    return new WeightTensor(name, shape, allocate(elementCount(shape)));
  }

  /** A tensor holding a copy of {@code values}. */
  public static WeightTensor of(String name, long[] shape, float[] values) {
    FloatBuffer buffer = allocate(values.length);
    buffer.put(values).flip();
    return new WeightTensor(name, shape, buffer);
  }

  /** A direct, native-order float buffer of {@code count} zeros. */
  public static FloatBuffer allocate(long count) {
    if (count > Integer.MAX_VALUE / Float.BYTES) {
      throw new IllegalArgumentException("tensor of " + count + " floats exceeds 2 GiB");
    }
    return ByteBuffer.allocateDirect((int) count * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  /** Product of the dimensions. */
  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** Number of elements. */
  public int size() {
    return data.limit();
  }

  /** A copy of the values as a heap array. */
  public float[] toArray() {
    float[] out = new float[size()];
    data.duplicate().get(out);
    return out;
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public String toString() {
    return "WeightTensor[" + name + " " + Arrays.toString(shape) + "]";
  }
}
