package dev.lopper.calibration;

import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The consumer inputs of a model's prunable tensors: which {@link ConsumerInput} each tensor's
 * statistics come from, the distinct inputs to gather statistics of (tensors reading one value the
 * same way share one), and the values to capture. Immutable and serializable, so a driver can make
 * it once and ship it to tasks.
 *
 * <pre>{@code
 * ConsumerInputs inputs = ConsumerInputs.of(model, tensors);
 * ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of());
 * ChunkStatistics chunk = ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(), GramOptions.defaults());
 * Map<String, InputStatistics> byTensor = inputs.byTensor(total);
 * }</pre>
 */
public final class ConsumerInputs implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final Map<String, ConsumerInput> tensors;
  private final List<ConsumerInput> inputs;
  private final Set<String> values;

  private ConsumerInputs(Map<String, ConsumerInput> tensors) {
    this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    Map<String, ConsumerInput> byKey = new LinkedHashMap<>();
    Set<String> names = new LinkedHashSet<>();
    for (ConsumerInput input : tensors.values()) {
      byKey.putIfAbsent(input.key(), input);
      names.add(input.value());
    }
    this.inputs = List.copyOf(byKey.values());
    this.values = Collections.unmodifiableSet(names);
  }

  /**
   * The consumer inputs of {@code tensors}, in their order.
   *
   * @throws dev.lopper.InvalidInputException naming the first tensor whose consumer activation-aware
   *     criteria do not support ({@link ConsumerInput#of})
   */
  public static ConsumerInputs of(OnnxModel model, List<PrunableTensor> tensors) {
    Map<String, ConsumerInput> byTensor = new LinkedHashMap<>();
    for (PrunableTensor t : tensors) {
      byTensor.put(t.name(), ConsumerInput.of(model, t));
    }
    return new ConsumerInputs(byTensor);
  }

  /** Each tensor's consumer input, by tensor name, in the tensors' order. */
  public Map<String, ConsumerInput> byTensor() {
    return tensors;
  }

  /** The distinct consumer inputs (one per {@link ConsumerInput#key()}), in order of first use. */
  public List<ConsumerInput> inputs() {
    return inputs;
  }

  /** The names of the values to capture, in order of first use. */
  public Set<String> values() {
    return values;
  }

  /**
   * Each tensor's statistics, by tensor name, from statistics kept by input key (tensors sharing an
   * input share the same object).
   *
   * @throws IllegalArgumentException when {@code statistics} lacks an input's key
   */
  public Map<String, InputStatistics> byTensor(ChunkStatistics statistics) {
    Map<String, InputStatistics> out = new LinkedHashMap<>();
    List<String> missing = new ArrayList<>();
    for (Map.Entry<String, ConsumerInput> e : tensors.entrySet()) {
      InputStatistics s = statistics.byKey().get(e.getValue().key());
      if (s == null) {
        missing.add(e.getKey() + " (" + e.getValue().key() + ")");
      } else {
        out.put(e.getKey(), s);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("no statistics for tensors " + missing + "; the statistics hold "
          + statistics.byKey().keySet());
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConsumerInputs c && tensors.equals(c.tensors);
  }

  @Override
  public int hashCode() {
    return tensors.hashCode();
  }

  @Override
  public String toString() {
    return "ConsumerInputs[" + tensors.size() + " tensors, " + inputs.size() + " inputs of values " + values + "]";
  }
}
