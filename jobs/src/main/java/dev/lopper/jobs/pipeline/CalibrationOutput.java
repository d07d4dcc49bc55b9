package dev.lopper.jobs.pipeline;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import dev.lopper.io.Safetensors;
import dev.lopper.jobs.RunContext;
import dev.lopper.model.PrunableTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The calibration statistics a prune used, as outputs of the run: {@code calibration/statistics.safetensors}
 * (float64: per tensor {@code <tensor>.count}, {@code <tensor>.sum} and {@code <tensor>.sum_squares} over its
 * consumer's input channels, and with sparsegpt the Gram matrix XᵀX once per distinct statistics as {@code
 * gram.<k>}, the metadata's {@code gram.<tensor>} naming each tensor's; the metadata also records the
 * {@link CalibrationFingerprint}) and
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

  /** The statistics file of the run directory {@code dir}. */
  static String file(String dir) {
    return new Path(dir, "calibration/statistics.safetensors").toString();
  }

  static void write(RunContext run, InspectedModel model, Map<String, InputStatistics> byTensor, boolean gram,
      CalibrationFingerprint fingerprint) {
    List<Safetensors.Payload> payloads = new ArrayList<>();
    Map<double[], String> gramKeys = new IdentityHashMap<>();
    Map<String, String> gramOf = new LinkedHashMap<>();
    List<InputRow> rows = new ArrayList<>();
    for (PrunableTensor t : model.tensors()) {
      InputStatistics s = byTensor.get(t.name());
      if (s == null) {
        continue;
      }
      payloads.add(f64(t.name() + ".count", new long[] {1}, new double[] {s.count()}));
      payloads.add(f64(t.name() + ".sum", new long[] {s.dim()}, s.sums()));
      payloads.add(f64(t.name() + ".sum_squares", new long[] {s.dim()}, s.sumSquares()));
      String key = null;
      if (gram && s.hasGram()) {
        key = gramKeys.get(s.gram());
        if (key == null) {
          key = "gram." + gramKeys.size();
          gramKeys.put(s.gram(), key);
          payloads.add(f64(key, new long[] {s.dim(), s.dim()}, s.gram()));
        }
        gramOf.put("gram." + t.name(), key);
      }
      double mean = 0;
      for (double v : s.sumSquares()) {
        mean += v;
      }
      mean = s.count() == 0 || s.dim() == 0 ? 0 : mean / s.dim() / s.count();
      rows.add(new InputRow(t.name(), t.readableName(), s.dim(), s.count(), key, mean));
    }
    Map<String, String> metadata = new LinkedHashMap<>(fingerprint.metadata());
    metadata.put("format", "lopper-calibration-1");
    metadata.putAll(gramOf);
    Safetensors.write(run.directory().file("calibration/statistics.safetensors"), run.directory().conf(), payloads,
        metadata);
    run.writeTable("calibration/inputs", InputRow.SCHEMA.table(rows));
  }

  /**
   * The statistics recorded in {@code file} for {@code model}'s prunable tensors, after checking that
   * they were gathered as {@code expected} says.
   *
   * @throws InvalidInputException naming the file when it is missing, of another calibration, or
   *     lacks a tensor
   */
  static Map<String, InputStatistics> read(String file, InspectedModel model, CalibrationFingerprint expected,
      Configuration conf) {
    if (!HadoopFiles.exists(file, conf)) {
      throw new InvalidInputException("calibration.from: no calibration statistics " + file
          + " (a prune with sweep.criterion wanda or sparsegpt writes them)");
    }
    Safetensors.File f = Safetensors.open(file, conf);
    expected.checkSame(CalibrationFingerprint.fromMetadata(f.metadata()), file);
    Map<String, double[]> grams = new HashMap<>();
    Map<String, InputStatistics> out = new LinkedHashMap<>();
    for (PrunableTensor t : model.tensors()) {
      double[] count = doubles(f, t.name() + ".count", file);
      double[] sums = doubles(f, t.name() + ".sum", file);
      double[] squares = doubles(f, t.name() + ".sum_squares", file);
      String key = f.metadata().get("gram." + t.name());
      double[] gram = key == null ? null : grams.computeIfAbsent(key, k -> doubles(f, k, file));
      out.put(t.name(), new InputStatistics(sums.length, (long) count[0], sums, squares, gram));
    }
    return out;
  }

  private static double[] doubles(Safetensors.File f, String name, String file) {
    Safetensors.Entry entry = f.entries().get(name);
    if (entry == null || !entry.dtype().equals("F64")) {
      throw new InvalidInputException("calibration.from: " + file + " has no float64 tensor " + name);
    }
    double[] out = new double[Math.toIntExact(entry.elementCount())];
    f.readBytes(entry).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(out);
    return out;
  }

  private static Safetensors.Payload f64(String name, long[] shape, double[] values) {
    ByteBuffer bytes = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asDoubleBuffer().put(values);
    return new Safetensors.Payload(name, "F64", shape, bytes);
  }
}
