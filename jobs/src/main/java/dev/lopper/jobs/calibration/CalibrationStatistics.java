package dev.lopper.jobs.calibration;

import dev.lopper.calibration.InputStatistics;
import java.io.Serial;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The merged statistics of one calibration pass, by tensor name; tensors whose consumers read one
 * input the same way (a block's query, key and value projections) share one object.
 *
 * @param byTensor tensor name to the statistics of its consumer's input
 */
public record CalibrationStatistics(Map<String, InputStatistics> byTensor) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  public CalibrationStatistics {
    byTensor = new LinkedHashMap<>(byTensor);
  }

  /** The statistics of tensor {@code tensor}'s consumer input. */
  public InputStatistics forTensor(String tensor) {
    InputStatistics s = byTensor.get(tensor);
    if (s == null) {
      throw new IllegalArgumentException("no calibration statistics for tensor " + tensor);
    }
    return s;
  }
}
