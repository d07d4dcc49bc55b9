package dev.lopper.jobs.config;

import java.util.List;
import java.util.Map;

/**
 * The validation data (keys {@code data.*}).
 *
 * @param path a Parquet file or directory
 * @param features the {@code list<float>} feature column
 * @param label the integer label column, or null when the data has no labels
 * @param inputs for models with token inputs: model input name to column, for inputs not fed from
 *     the column of their own name
 * @param targets a language model's target column, or null for the input ids shifted by one
 * @param inputShape one row's input shape without the batch dimension, or null to take the model's
 * @param batchSize rows per forward pass
 * @param partitions partitions to split the data into, 0 for automatic
 */
public record DataConfig(String path, String features, String label, Map<String, String> inputs, String targets,
    List<Long> inputShape, int batchSize, int partitions) {

  public DataConfig {
    inputShape = inputShape == null ? null : List.copyOf(inputShape);
    inputs = Map.copyOf(inputs);
  }

  /** The column that feeds model input {@code input}: as {@link #inputs} maps it, else its own name. */
  public String column(String input) {
    return inputs.getOrDefault(input, input);
  }

  /** True when a label column is configured. */
  public boolean hasLabels() {
    return label != null;
  }
}
