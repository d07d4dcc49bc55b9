package dev.lopper.jobs.data;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * One data partition's rows, decoded once into typed arrays: {@code rows × rowLength} features
 * in one {@code float[]} and the labels in an {@code int[]} (null for data without labels). Spark
 * keeps these in memory for the run, so every task of a partition starts from decoded floats.
 *
 * @param partition the data partition's index
 * @param rows number of rows
 * @param rowLength floats per row
 * @param features the rows' features, row-major
 * @param labels the rows' labels, or null
 * @param checks what decoding counted in this partition's rows (all of them, also those not kept
 *     because they are unusable; the data is only used once every partition's checks pass)
 */
public record PartitionRows(int partition, int rows, int rowLength, float[] features, int[] labels,
    DataChecks checks) implements PartitionData {

  @Override
  public List<Batch> batches(int from, int to, ValidationData.Spec spec, int batchSize, BufferAllocator allocator) {
    return batches(from, to, spec.rowShape(), batchSize, spec.featuresColumn(), spec.labelColumn(), allocator);
  }

  @Override
  public PartitionRows slice(int from, int to) {
    if (from < 0 || to > rows || from > to) {
      throw new IllegalArgumentException("rows " + from + " to " + to + " of a partition of " + rows);
    }
    return new PartitionRows(partition, to - from, rowLength,
        Arrays.copyOfRange(features, from * rowLength, to * rowLength),
        labels == null ? null : Arrays.copyOfRange(labels, from, to), DataChecks.NONE);
  }

  @Override
  public PartitionRows append(PartitionData next, int partition) {
    PartitionRows other = (PartitionRows) next;
    if (other.rowLength != rowLength || (other.labels == null) != (labels == null)) {
      throw new IllegalArgumentException("appending rows of " + other.rowLength + " floats to rows of " + rowLength);
    }
    float[] f = Arrays.copyOf(features, (rows + other.rows) * rowLength);
    System.arraycopy(other.features, 0, f, rows * rowLength, other.rows * rowLength);
    int[] l = null;
    if (labels != null) {
      l = Arrays.copyOf(labels, rows + other.rows);
      System.arraycopy(other.labels, 0, l, rows, other.rows);
    }
    return new PartitionRows(partition, rows + other.rows, rowLength, f, l, DataChecks.NONE);
  }

  /**
   * Rows {@code from} (inclusive) to {@code to} (exclusive) as batches of at most {@code batchSize}
   * rows, the first starting at {@code from}; the caller closes them. {@code labelColumn} is null
   * for rows without labels.
   */
  public List<Batch> batches(int from, int to, long[] rowShape, int batchSize, String featuresColumn,
      String labelColumn, BufferAllocator allocator) {
    if (from < 0 || to > rows || from > to) {
      throw new IllegalArgumentException("rows " + from + " to " + to + " of a partition of " + rows);
    }
    List<Batch> batches = new ArrayList<>();
    for (int start = from; start < to; start += batchSize) {
      int n = Math.min(batchSize, to - start);
      try (BatchBuilder builder = new BatchBuilder(rowShape, n, labels != null, allocator)) {
        // Rows without labels (data.label null; calibration data, read inputs only): the label
        // column's name is never used.
        builder.columns(featuresColumn, labelColumn != null ? labelColumn : "label");
        for (int r = start; r < start + n; r++) {
          if (labels == null) {
            builder.addUnlabelled(features, r * rowLength);
          } else {
            builder.add(features, r * rowLength, labels[r]);
          }
        }
        batches.add(builder.build());
      }
    }
    return batches;
  }
}
