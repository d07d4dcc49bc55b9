package dev.lopper.jobs.calibration;

import dev.lopper.model.WeightTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.broadcast.Broadcast;

/**
 * Weights that replace the dense ones during a calibration pass (the groups already pruned in
 * sequential calibration), in a form Spark can broadcast: the values as float arrays, turned back
 * into {@link WeightTensor}s once per JVM holding the object. Sequential calibration broadcasts each
 * group's weights once and every later pass reads them from that broadcast ({@link #merged}).
 */
public final class Replacements implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private final Map<String, float[]> values = new LinkedHashMap<>();
  private transient Map<String, WeightTensor> tensors;

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

  /** How many tensors are replaced. */
  public int size() {
    return values.size();
  }

  /**
   * The tensors of every broadcast's replacements together (each broadcast's made once per JVM).
   *
   * @throws IllegalArgumentException when two of them replace the same tensor
   */
  public static Map<String, WeightTensor> merged(List<Broadcast<Replacements>> replacements) {
    Map<String, WeightTensor> out = new LinkedHashMap<>();
    for (Broadcast<Replacements> b : replacements) {
      for (Map.Entry<String, WeightTensor> e : b.value().tensors().entrySet()) {
        if (out.put(e.getKey(), e.getValue()) != null) {
          throw new IllegalArgumentException("tensor " + e.getKey() + " is replaced by two broadcasts");
        }
      }
    }
    return out;
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
