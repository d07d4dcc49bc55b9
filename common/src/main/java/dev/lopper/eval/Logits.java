package dev.lopper.eval;

import java.util.Arrays;

/**
 * A model's raw class scores for a batch: {@code rows} rows of {@code classes} float32 logits,
 * row-major in {@code values}.
 *
 * <p>Two logits are {@link #equals equal} when they have the same size and every value has the
 * same bits (NaNs compared as equal), which is what "bitwise equal" means throughout Lopper.
 *
 * @param rows number of rows (samples)
 * @param classes number of classes (logits per row)
 * @param values {@code rows * classes} logits, row-major; not copied, do not modify
 */
public record Logits(int rows, int classes, float[] values) {

  public Logits {
    if (rows < 0 || classes <= 0) {
      throw new IllegalArgumentException("logits need rows >= 0 and classes > 0, got rows=" + rows
          + ", classes=" + classes);
    }
    if (values.length != (long) rows * classes) {
      throw new IllegalArgumentException("logits of " + rows + " rows x " + classes
          + " classes need " + (long) rows * classes + " values, got " + values.length);
    }
  }

  /** The logit of class {@code c} in row {@code row}. */
  public float get(int row, int c) {
    return values[row * classes + c];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Logits other && rows == other.rows && classes == other.classes
        && Arrays.equals(values, other.values);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * rows + classes) + Arrays.hashCode(values);
  }

  @Override
  public String toString() {
    return "Logits[" + rows + " x " + classes + "]";
  }
}
