package dev.lopper.jobs.config;

import java.util.List;

/**
 * The validation data (keys {@code data.*}).
 *
 * @param path a Parquet file or directory
 * @param features the {@code list<float>} feature column
 * @param label the integer label column, or null when the data has no labels
 * @param inputShape one row's input shape without the batch dimension, or null to take the model's
 * @param batchSize rows per forward pass
 * @param partitions partitions to split the data into, 0 for automatic
 */
public record DataConfig(String path, String features, String label, List<Long> inputShape, int batchSize,
    int partitions) {

  public DataConfig {
    inputShape = inputShape == null ? null : List.copyOf(inputShape);
  }

  /** True when a label column is configured. */
  public boolean hasLabels() {
    return label != null;
  }
}
