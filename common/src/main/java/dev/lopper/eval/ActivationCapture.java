package dev.lopper.eval;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.InvalidInputException;
import dev.lopper.calibration.CapturedValue;
import dev.lopper.data.Batch;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * Captures inner values of a model for calibration: an ONNX Runtime session of the part of the
 * graph that computes the wanted values (and nothing after them: the model's output is not
 * computed), with the evaluator's shared dense weights and optionally some replaced, so that the
 * values of a model whose earlier blocks are already pruned can be captured (sequential
 * calibration). Replacements are external initializers, as for {@link Evaluator#variant}, and take
 * effect for Conv weights too.
 *
 * <p>Values that are graph inputs (the features a first layer reads) are copied from the batch.
 *
 * <pre>{@code
 * try (ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of())) {
 *   Map<String, CapturedValue> values = capture.run(batch);
 * }
 * }</pre>
 *
 * <p>Thread-safe for {@link #run}. Close it before its evaluator; it closes its replacement tensors,
 * never the evaluator's shared dense ones.
 */
public final class ActivationCapture implements AutoCloseable {
  private final Evaluator evaluator;
  private final List<String> values;
  private final Set<String> computed;
  private final Map<String, WeightTensor> replacements;
  private final OrtSession session; // null when every value is a graph input
  private final OrtSession.SessionOptions sessionOptions;
  private final Set<String> sessionInputs;
  private final List<OnnxTensor> owned = new ArrayList<>();
  private boolean closed;

  /**
   * A capture of {@code values} (graph value names: node outputs or graph inputs) with the weights
   * in {@code replacements} (by initializer name) instead of the dense ones. Replacements of weights
   * the values do not depend on change nothing and are left out; the others' buffers are read in
   * place, so do not change them while the capture is open.
   *
   * @throws IllegalArgumentException when a value names nothing in the graph, or a replacement
   *     names no float initializer of the model or has another shape
   */
  public ActivationCapture(Evaluator evaluator, Collection<String> values, Map<String, WeightTensor> replacements) {
    evaluator.checkOpen();
    evaluator.checkReplacements(replacements);
    this.evaluator = evaluator;
    this.values = List.copyOf(new LinkedHashSet<>(values));
    if (this.values.isEmpty()) {
      throw new IllegalArgumentException("no values to capture");
    }
    Set<String> graphInputs = evaluator.inputNames();
    Set<String> toCompute = new LinkedHashSet<>(this.values);
    toCompute.removeAll(graphInputs);
    this.computed = Collections.unmodifiableSet(toCompute);
    if (computed.isEmpty()) {
      this.session = null;
      this.sessionOptions = null;
      this.sessionInputs = Set.of();
      this.replacements = Map.of();
      return;
    }
    Onnx.ModelProto part = GraphCut.computing(evaluator.model(), computed);
    Map<String, OnnxTensorLike> initializers = new HashMap<>(evaluator.weightsOf(part));
    Map<String, WeightTensor> used = new LinkedHashMap<>();
    this.sessionOptions = new OrtSession.SessionOptions();
    try {
      for (Map.Entry<String, WeightTensor> e : replacements.entrySet()) {
        if (initializers.containsKey(e.getKey())) {
          OnnxTensor t = evaluator.wrap(e.getValue());
          owned.add(t);
          initializers.put(e.getKey(), t);
          used.put(e.getKey(), e.getValue());
        }
      }
      this.session = evaluator.createSession(part.toByteArray(), initializers, sessionOptions);
      this.sessionInputs = Set.copyOf(session.getInputNames());
    } catch (RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      sessionOptions.close();
      throw e;
    }
    this.replacements = Collections.unmodifiableMap(used);
  }

  /** The values captured, in the order asked for. */
  public List<String> values() {
    return values;
  }

  /** The replacements in effect: those of weights the captured values depend on. */
  public Map<String, WeightTensor> replacements() {
    return replacements;
  }

  /**
   * The captured values for {@code batch}, by name, each a float32 copy with its shape (the batch's
   * rows first).
   *
   * @throws InvalidInputException when the batch does not fit the model's inputs, or a value is
   *     not a float32 tensor
   */
  public Map<String, CapturedValue> run(Batch batch) {
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("activation capture of " + values + " is closed");
      }
    }
    Map<String, OnnxTensor> feed = evaluator.feed(batch);
    try {
      Map<String, CapturedValue> out = new LinkedHashMap<>();
      Map<String, OnnxTensor> sessionFeed = new HashMap<>();
      feed.forEach((name, tensor) -> {
        if (sessionInputs.contains(name)) {
          sessionFeed.put(name, tensor);
        }
      });
      Map<String, CapturedValue> computedValues = new HashMap<>();
      if (session != null) {
        try (OrtSession.Result result = session.run(sessionFeed, computed)) {
          for (String v : computed) {
            computedValues.put(v, copy(v, result.get(v).orElseThrow(), batch));
          }
        } catch (OrtException e) {
          throw new IllegalStateException(evaluator.model().source().onnxPath()
              + ": ONNX Runtime failed capturing " + computed + " on " + batch + ": " + e.getMessage(), e);
        }
      }
      for (String v : values) {
        out.put(v, computed.contains(v) ? computedValues.get(v) : copy(v, feed.get(v), batch));
      }
      return out;
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  /** A float32 copy of an ONNX Runtime value. */
  private CapturedValue copy(String name, OnnxValue value, Batch batch) {
    if (!(value instanceof OnnxTensor tensor) || tensor.getInfo().type != OnnxJavaType.FLOAT) {
      throw new InvalidInputException(evaluator.model().source().onnxPath() + ": value " + name + " is "
          + (value == null ? "not fed by " + batch : value.getInfo()) + "; calibration captures float32 tensors");
    }
    return new CapturedValue(name, tensor.getInfo().getShape(), tensor.getFloatBuffer());
  }

  /** Closes the session and the replacement tensors. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (session != null) {
        session.close();
      }
    } catch (OrtException e) {
      throw new IllegalStateException("closing an ONNX Runtime session failed", e);
    } finally {
      owned.forEach(OnnxTensor::close);
      if (sessionOptions != null) {
        sessionOptions.close();
      }
    }
  }

  @Override
  public String toString() {
    return "ActivationCapture[" + values + (replacements.isEmpty() ? "" : ", replacing " + replacements.keySet()) + "]";
  }
}
