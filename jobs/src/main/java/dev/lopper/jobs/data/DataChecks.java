package dev.lopper.jobs.data;

import dev.lopper.InvalidInputException;
import java.io.Serializable;
import java.util.Arrays;

/**
 * What decoding saw in the validation rows, counted while a partition is decoded so that the data
 * is read once: rows, rows whose features are missing or hold null values, the range of feature
 * list lengths and of labels, rows without a label. Partitions' checks merge by {@link #merge};
 * {@link #verify} turns the merged counts into the one message a user gets.
 *
 * @param rows rows seen
 * @param nullFeatureRows rows whose features list is null
 * @param nullValueRows rows whose features list holds a null value
 * @param minLength the shortest features list (Integer.MAX_VALUE when no list was seen)
 * @param maxLength the longest features list (-1 when no list was seen)
 * @param nullLabelRows rows whose label is null
 * @param minLabel the smallest label (Long.MAX_VALUE when none)
 * @param maxLabel the largest label (Long.MIN_VALUE when none)
 */
public record DataChecks(long rows, long nullFeatureRows, long nullValueRows, int minLength, int maxLength,
    long nullLabelRows, long minLabel, long maxLabel) implements Serializable {

  /** Nothing seen yet. */
  public static final DataChecks NONE =
      new DataChecks(0, 0, 0, Integer.MAX_VALUE, -1, 0, Long.MAX_VALUE, Long.MIN_VALUE);

  /** This partition's counts together with {@code other}'s. */
  public DataChecks merge(DataChecks other) {
    return new DataChecks(rows + other.rows, nullFeatureRows + other.nullFeatureRows,
        nullValueRows + other.nullValueRows, Math.min(minLength, other.minLength),
        Math.max(maxLength, other.maxLength), nullLabelRows + other.nullLabelRows,
        Math.min(minLabel, other.minLabel), Math.max(maxLabel, other.maxLabel));
  }

  /**
   * Throws the first problem found, naming the file and column: no rows, null features or values,
   * rows of the wrong length, null labels, labels outside [0, classes).
   *
   * @param spec what was read (the file, the columns, the row shape)
   * @param classes the model's number of outputs; labels must lie below it
   */
  public void verify(ValidationData.Spec spec, int classes) {
    String where = spec.path();
    if (rows == 0) {
      throw new InvalidInputException(where + ": the validation data has no rows");
    }
    if (nullFeatureRows > 0) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " is null in "
          + nullFeatureRows + " of " + rows + " rows");
    }
    if (nullValueRows > 0) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " has null values in "
          + nullValueRows + " of " + rows + " rows");
    }
    if (minLength != spec.rowLength() || maxLength != spec.rowLength()) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " has rows of "
          + (minLength == maxLength ? minLength : minLength + " to " + maxLength) + " values; the model input "
          + Arrays.toString(spec.rowShape()) + " needs " + spec.rowLength() + " per row");
    }
    if (spec.labelColumn() != null) {
      if (nullLabelRows > 0) {
        throw new InvalidInputException(where + ": column " + spec.labelColumn() + " is null in "
            + nullLabelRows + " of " + rows + " rows");
      }
      if (minLabel < 0 || maxLabel >= classes) {
        throw new InvalidInputException(where + ": column " + spec.labelColumn() + " has labels from "
            + minLabel + " to " + maxLabel + "; the model has " + classes + " classes, so labels must lie in [0, "
            + (classes - 1) + "]");
      }
    }
  }
}
