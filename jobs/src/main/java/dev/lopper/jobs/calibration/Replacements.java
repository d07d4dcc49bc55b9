package dev.lopper.jobs.calibration;

import dev.lopper.model.WeightTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Weights that replace the dense ones during a calibration pass (the groups already pruned in
 * sequential calibration), in a form Spark can broadcast: the values as float arrays, turned back
 * into {@link WeightTensor}s once per executor.
 */
public final class Replacements implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private final Map<String, float[]> values = new LinkedHashMap<>();
  private transient Map<String, WeightTensor> tensors;

  /** No replacement: the dense model. */
  public static Replacements none() {
    return new Replacements();
  }

  /** {@code weights} as replacements. */
  public static Replacements of(Map<String, WeightTensor> weights) {
    Replacements r = new Replacements();
    weights.forEach((name, w) -> {
      r.shapes.put(name, w.shape());
      r.values.put(name, w.toArray());
    });
    return r;
  }

  /** Whether nothing is replaced. */
  public boolean isEmpty() {
    return values.isEmpty();
  }

  /** The replaced tensors by name, made once per JVM holding this object. */
  public synchronized Map<String, WeightTensor> tensors() {
    if (tensors == null) {
      Map<String, WeightTensor> out = new LinkedHashMap<>();
      values.forEach((name, v) -> out.put(name, WeightTensor.of(name, shapes.get(name), v)));
      tensors = Map.copyOf(out);
    }
    return tensors;
  }
}
