package dev.lopper.calibration;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One float32 value of a model for one batch, as {@code dev.lopper.eval.ActivationCapture} returns
 * it: its shape (the batch's rows first) and its elements, row-major.
 *
 * @param name the graph value's name
 * @param shape its dimensions
 * @param data its elements from position 0, {@code product(shape)} of them; read with absolute gets
 */
public record CapturedValue(String name, long[] shape, FloatBuffer data) {

  public CapturedValue {
    Objects.requireNonNull(name, "name");
    shape = shape.clone();
    long count = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("value " + name + " has shape " + Arrays.toString(shape));
      }
      count = Math.multiplyExact(count, d);
    }
    if (data.limit() != count) {
      throw new IllegalArgumentException("value " + name + " of shape " + Arrays.toString(shape) + " needs "
          + count + " elements, its buffer holds " + data.limit());
    }
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** A copy of the elements. */
  public float[] toArray() {
    float[] out = new float[data.limit()];
    data.get(0, out);
    return out;
  }

  @Override
  public String toString() {
    return "CapturedValue[" + name + " " + Arrays.toString(shape) + "]";
  }
}
