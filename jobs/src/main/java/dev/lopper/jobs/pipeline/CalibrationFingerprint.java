package dev.lopper.jobs.pipeline;

import dev.lopper.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything that decides a prune's calibration statistics, recorded with them in {@code
 * calibration/statistics.safetensors} and compared field by field when a later run reuses them
 * ({@code calibration.from}): the model's checksum, the calibration data's SHA-256, the rows and their
 * chunking, the calibration mode and groups, and for sequential calibration also what pruned the
 * earlier groups (criterion, pattern, dampening, every tensor's sparsity).
 *
 * @param fields field name to its value as text, in a fixed order
 */
record CalibrationFingerprint(Map<String, String> fields) {

  /** The prefix of the fingerprint's entries in the safetensors metadata. */
  static final String PREFIX = "lopper.calibration.";

  CalibrationFingerprint {
    fields = new LinkedHashMap<>(fields);
  }

  /** The fingerprint of statistics gathered with these settings. */
  static CalibrationFingerprint of(String modelChecksum, String dataSha256, long rows, int chunkRows,
      String sequential, String groups, String criterion, String pattern, double dampening,
      Map<String, Double> sparsities) {
    Map<String, String> f = new LinkedHashMap<>();
    f.put("model", modelChecksum);
    f.put("data", dataSha256);
    f.put("rows", String.valueOf(rows));
    f.put("chunk-rows", String.valueOf(chunkRows));
    f.put("sequential", sequential);
    f.put("groups", groups);
    f.put("gram", String.valueOf(criterion.equals("sparsegpt")));
    if (!sequential.equals("false")) {
      f.put("criterion", criterion);
      f.put("pattern", pattern);
      f.put("dampening", String.valueOf(dampening));
      f.put("sparsities", new TreeMap<>(sparsities).toString());
    }
    return new CalibrationFingerprint(f);
  }

  /** The fingerprint as safetensors metadata entries. */
  Map<String, String> metadata() {
    Map<String, String> out = new LinkedHashMap<>();
    fields.forEach((k, v) -> out.put(PREFIX + k, v));
    return out;
  }

  /** The fingerprint recorded in a file's metadata. */
  static CalibrationFingerprint fromMetadata(Map<String, String> metadata) {
    Map<String, String> f = new LinkedHashMap<>();
    metadata.forEach((k, v) -> {
      if (k.startsWith(PREFIX)) {
        f.put(k.substring(PREFIX.length()), v);
      }
    });
    return new CalibrationFingerprint(f);
  }

  /**
   * Checks that statistics recorded with {@code recorded} in {@code file} are this run's.
   *
   * @throws InvalidInputException naming the file and the first field that differs
   */
  void checkSame(CalibrationFingerprint recorded, String file) {
    for (Map.Entry<String, String> e : fields.entrySet()) {
      String theirs = recorded.fields.get(e.getKey());
      if (!e.getValue().equals(theirs)) {
        throw new InvalidInputException("calibration.from: " + file + " holds statistics of another calibration: its "
            + e.getKey() + " is " + (theirs == null ? "not recorded" : theirs) + ", this run's " + e.getValue()
            + "; calibrate afresh (calibration.from null) or reuse a run of the same model, data and settings");
      }
    }
  }
}
