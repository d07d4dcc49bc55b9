package dev.lopper.jobs.data;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import java.io.Serializable;
import java.util.ArrayList;
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
 */
public record PartitionRows(int partition, int rows, int rowLength, float[] features, int[] labels)
    implements Serializable {

  /** This partition's rows as batches of at most {@code batchSize} rows; the caller closes them. */
  public List<Batch> batches(long[] rowShape, int batchSize, String featuresColumn, String labelColumn,
      BufferAllocator allocator) {
    List<Batch> batches = new ArrayList<>();
    for (int start = 0; start < rows; start += batchSize) {
      int n = Math.min(batchSize, rows - start);
      try (BatchBuilder builder = new BatchBuilder(rowShape, n, labels != null, allocator)) {
        builder.columns(featuresColumn, labelColumn);
        for (int r = start; r < start + n; r++) {
          builder.add(features, r * rowLength, labels == null ? 0 : labels[r]);
        }
        batches.add(builder.build());
      }
    }
    return batches;
  }
}
