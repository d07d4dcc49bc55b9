package dev.lopper.jobs.data;

import dev.lopper.data.Batch;
import java.io.Serializable;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * One data partition's rows, decoded once into typed arrays and kept in memory by Spark for the
 * run, so that every task of the partition starts from decoded values: {@link PartitionRows} for
 * float features, {@link SequenceRows} for token sequences.
 */
public interface PartitionData extends Serializable {

  /** The data partition's index. */
  int partition();

  /** Number of rows kept. */
  int rows();

  /**
   * Rows {@code from} (inclusive) to {@code to} (exclusive) as batches of at most {@code batchSize}
   * rows, in row order; the caller closes them.
   */
  List<Batch> batches(int from, int to, ValidationData.Spec spec, int batchSize, BufferAllocator allocator);

  /**
   * Rows {@code from} (inclusive) to {@code to} (exclusive) as data of their own, to be moved to
   * another task (calibration gathers fixed chunks of rows that may span partitions).
   */
  PartitionData slice(int from, int to);

  /**
   * Rows of this data followed by those of {@code next} (data of the same kind and layout), as
   * partition {@code partition}.
   */
  PartitionData append(PartitionData next, int partition);

  /** All rows as batches; the caller closes them. */
  default List<Batch> batches(ValidationData.Spec spec, int batchSize, BufferAllocator allocator) {
    return batches(0, rows(), spec, batchSize, allocator);
  }
}
