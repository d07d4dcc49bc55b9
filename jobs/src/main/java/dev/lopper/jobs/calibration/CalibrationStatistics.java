package dev.lopper.jobs.calibration;

import dev.lopper.calibration.InputStatistics;
import java.io.Serial;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The merged statistics of one calibration pass: per consumer input value, and which value each
 * tensor reads (the query, key and value projections of one block share one).
 *
 * @param valueOf tensor name to the name of its consumer's input value
 * @param byValue value name to its statistics
 */
public record CalibrationStatistics(Map<String, String> valueOf, Map<String, InputStatistics> byValue)
    implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  public CalibrationStatistics {
    valueOf = new LinkedHashMap<>(valueOf);
    byValue = new LinkedHashMap<>(byValue);
  }

  /** The statistics of tensor {@code tensor}'s consumer input. */
  public InputStatistics forTensor(String tensor) {
    String value = valueOf.get(tensor);
    if (value == null) {
      throw new IllegalArgumentException("no calibration statistics for tensor " + tensor);
    }
    return byValue.get(value);
  }

  /** Tensor name to its statistics. */
  public Map<String, InputStatistics> byTensor() {
    Map<String, InputStatistics> out = new LinkedHashMap<>();
    valueOf.forEach((tensor, value) -> out.put(tensor, byValue.get(value)));
    return out;
  }
}
