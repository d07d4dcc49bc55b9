package dev.lopper.eval;

import java.util.Arrays;

/**
 * A model's float output for a batch: {@code rows} rows of {@code positions} positions of
 * {@code classes} values, row-major in {@code values}. A classifier's logits are {@code [rows,
 * classes]} (one position); a language model's {@code [rows, positions, vocabulary]}; a hidden
 * state's {@code [rows, positions, width]} (then "classes" is the width).
 *
 * <p>Two logits are {@link #equals equal} when they have the same shape and every value has the
 * same bits (NaNs compared as equal), which is what "bitwise equal" means throughout Lopper.
 *
 * @param rows number of rows (samples)
 * @param positions positions per row: 1 for an output of rank 2, the sequence length for rank 3
 * @param classes values per position (classes, vocabulary or width)
 * @param values {@code rows * positions * classes} values, row-major; not copied, do not modify
 */
public record Logits(int rows, int positions, int classes, float[] values) {

  public Logits {
    if (rows < 0 || positions <= 0 || classes <= 0) {
      throw new IllegalArgumentException("logits need rows >= 0, positions > 0 and classes > 0, got rows="
          + rows + ", positions=" + positions + ", classes=" + classes);
    }
    if (values.length != (long) rows * positions * classes) {
      throw new IllegalArgumentException("logits of " + rows + " rows x " + positions + " positions x "
          + classes + " classes need " + (long) rows * positions * classes + " values, got " + values.length);
    }
  }

  /** A classifier's logits {@code [rows, classes]}. */
  public Logits(int rows, int classes, float[] values) {
    this(rows, 1, classes, values);
  }

  /** The logit of class {@code c} in row {@code row} (of its first position). */
  public float get(int row, int c) {
    return values[row * positions * classes + c];
  }

  /** The value {@code c} at position {@code position} of row {@code row}. */
  public float get(int row, int position, int c) {
    return values[(row * positions + position) * classes + c];
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Logits other && rows == other.rows && positions == other.positions
        && classes == other.classes && Arrays.equals(values, other.values);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * (31 * rows + positions) + classes) + Arrays.hashCode(values);
  }

  @Override
  public String toString() {
    return positions == 1 ? "Logits[" + rows + " x " + classes + "]"
        : "Logits[" + rows + " x " + positions + " x " + classes + "]";
  }
}
