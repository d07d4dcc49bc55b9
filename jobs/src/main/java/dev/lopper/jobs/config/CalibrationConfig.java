package dev.lopper.jobs.config;

import java.util.List;

/**
 * The calibration data and how activation-aware criteria gather their statistics (keys {@code
 * calibration.*}).
 *
 * @param data the calibration data (columns as {@code data.*} names them), or null for {@code data.path}
 * @param rows the first rows in file order to calibrate on, or null for all
 * @param sequential {@code true}: groups of tensors (decoder blocks, or {@code groups}) calibrated in
 *     graph order, each on activations of the model with the earlier groups already pruned; {@code cut}:
 *     the same with a group between every two consecutive single-value cuts; {@code false}: one pass
 *     over the dense model
 * @param groups globs over tensor names, one per group, or empty for the decoder blocks found from the
 *     consumers' node paths
 * @param dampening SparseGPT's dampening, a fraction of the mean diagonal of the Gram matrix
 * @param from a run directory whose {@code calibration/} statistics to reuse, or null
 */
public record CalibrationConfig(String data, Integer rows, String sequential, List<String> groups, double dampening,
    String from) {

  /** SparseGPT's dampening unless configured: 1% of the mean diagonal, as the reference. */
  public static final double DEFAULT_DAMPENING = 0.01;

  public CalibrationConfig {
    groups = List.copyOf(groups);
  }

  /** Whether groups are calibrated one after another ({@code true} or {@code cut}). */
  public boolean isSequential() {
    return !"false".equals(sequential);
  }

  /** Whether the groups are those between single-value cuts ({@code cut}). */
  public boolean byCuts() {
    return "cut".equals(sequential);
  }

  /** The calibration data's path: {@link #data()}, or the validation data's. */
  public String path(DataConfig validation) {
    return data != null ? data : validation.path();
  }
}
