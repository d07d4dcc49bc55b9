package dev.lopper.jobs.pipeline;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import dev.lopper.io.Safetensors;
import dev.lopper.jobs.RunContext;
import dev.lopper.model.PrunableTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The calibration statistics a prune used, as outputs of the run: {@code calibration/statistics.safetensors}
 * (float64: per tensor {@code <tensor>.sum} and {@code <tensor>.sum_squares} over its consumer's input
 * channels, and with sparsegpt the Gram matrix XᵀX once per distinct statistics as {@code gram.<k>}) and
 * the table {@code calibration/inputs.*} (which tensor reads which statistics, their channels and count).
 */
final class CalibrationOutput {

  /**
   * One row of {@code calibration/inputs}.
   *
   * @param tensor the prunable tensor
   * @param node its readable name when the tensor's is anonymous, else null
   * @param channels input channels of its consumer
   * @param count samples summed (tokens, rows or patches)
   * @param gram the key of its Gram matrix in the safetensors file, or null when not gathered
   * @param meanSquare the mean of the channels' Σx²/n, a quick look at the activation's scale
   */
  public record InputRow(String tensor, @Optional String node, long channels, long count, @Optional String gram,
      double meanSquare) {
    static final RowSchema<InputRow> SCHEMA = RowSchema.of(InputRow.class);
  }

  private CalibrationOutput() {}

  static void write(RunContext run, InspectedModel model, Map<String, InputStatistics> byTensor, boolean gram) {
    List<Safetensors.Payload> payloads = new ArrayList<>();
    Map<InputStatistics, String> gramKeys = new IdentityHashMap<>();
    List<InputRow> rows = new ArrayList<>();
    for (PrunableTensor t : model.tensors()) {
      InputStatistics s = byTensor.get(t.name());
      if (s == null) {
        continue;
      }
      payloads.add(f64(t.name() + ".sum", new long[] {s.dim()}, s.sums()));
      payloads.add(f64(t.name() + ".sum_squares", new long[] {s.dim()}, s.sumSquares()));
      String key = null;
      if (gram && s.hasGram()) {
        key = gramKeys.get(s);
        if (key == null) {
          key = "gram." + gramKeys.size();
          gramKeys.put(s, key);
          payloads.add(f64(key, new long[] {s.dim(), s.dim()}, s.gram()));
        }
      }
      double mean = 0;
      for (double v : s.sumSquares()) {
        mean += v;
      }
      mean = s.count() == 0 || s.dim() == 0 ? 0 : mean / s.dim() / s.count();
      rows.add(new InputRow(t.name(), t.readableName(), s.dim(), s.count(), key, mean));
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "lopper-calibration-1");
    metadata.put("model_checksum", model.model().checksum());
    Safetensors.write(run.directory().file("calibration/statistics.safetensors"), run.directory().conf(), payloads,
        metadata);
    run.writeTable("calibration/inputs", InputRow.SCHEMA.table(rows));
  }

  private static Safetensors.Payload f64(String name, long[] shape, double[] values) {
    ByteBuffer bytes = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asDoubleBuffer().put(values);
    return new Safetensors.Payload(name, "F64", shape, bytes);
  }
}
