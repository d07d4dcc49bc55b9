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
 * <p>A capture can also run a part of the graph that starts from values held from an earlier
 * session as well as from the batch ({@link #segment}): sequential calibration's steps ({@link
 * GraphSegments}).
 *
 * <p>Thread-safe for {@link #run} and {@link #compute}. Close it before its evaluator; it closes its replacement tensors,
 * never the evaluator's shared dense ones.
 */
public final class ActivationCapture implements AutoCloseable {
  private final Evaluator evaluator;
  private final List<String> values;
  private final Set<String> computed;
  private final Map<String, WeightTensor> replacements;
  private final OrtSession session; // null when nothing is computed
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
    this(evaluator, values, computing(evaluator, values), replacements);
  }

  /**
   * A capture of {@code values} that runs {@code part} (a part of the evaluator's model, as {@link
   * GraphSegments} makes them; null: nothing to compute) for its outputs, and takes the other
   * values from the batch (graph inputs) or from the values held that each run is given.
   *
   * @throws IllegalArgumentException when a replacement names no float initializer of the model or
   *     has another shape
   */
  public static ActivationCapture segment(Evaluator evaluator, Collection<String> values, Onnx.ModelProto part,
      Map<String, WeightTensor> replacements) {
    return new ActivationCapture(evaluator, values, part, replacements, true);
  }

  /**
   * Like {@link #segment(Evaluator, Collection, Onnx.ModelProto, Map)} with sessions that do not
   * pre-pack their weights, for values compared only with values of such sessions (the replacement
   * probe, {@link Evaluator#checkReplacementsTakeEffect}): pre-packing a 268 MB weight takes longer
   * than the probe's run.
   */
  static ActivationCapture unpackedSegment(Evaluator evaluator, Collection<String> values,
      Onnx.ModelProto part, Map<String, WeightTensor> replacements) {
    return new ActivationCapture(evaluator, values, part, replacements, false);
  }

  private ActivationCapture(Evaluator evaluator, Collection<String> values, Onnx.ModelProto part,
      Map<String, WeightTensor> replacements) {
    this(evaluator, values, part, replacements, true);
  }

  private ActivationCapture(Evaluator evaluator, Collection<String> values, Onnx.ModelProto part,
      Map<String, WeightTensor> replacements, boolean prepack) {
    evaluator.checkOpen();
    evaluator.checkReplacements(replacements);
    this.evaluator = evaluator;
    this.values = List.copyOf(new LinkedHashSet<>(values));
    if (part == null) {
      this.computed = Set.of();
      this.session = null;
      this.sessionOptions = null;
      this.sessionInputs = Set.of();
      this.replacements = Map.of();
      return;
    }
    Set<String> outputs = new LinkedHashSet<>();
    part.getGraph().getOutputList().forEach(o -> outputs.add(o.getName()));
    this.computed = Collections.unmodifiableSet(outputs);
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
      this.session = evaluator.createSession(part.toByteArray(), initializers, sessionOptions, prepack);
      this.sessionInputs = Set.copyOf(session.getInputNames());
    } catch (RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      sessionOptions.close();
      throw e;
    }
    this.replacements = Collections.unmodifiableMap(used);
  }

  /** The part of the graph computing those of {@code values} that are not graph inputs; null if none. */
  private static Onnx.ModelProto computing(Evaluator evaluator, Collection<String> values) {
    if (values.isEmpty()) {
      throw new IllegalArgumentException("no values to capture");
    }
    Set<String> toCompute = new LinkedHashSet<>(values);
    toCompute.removeAll(evaluator.inputNames());
    return toCompute.isEmpty() ? null : GraphCut.computing(evaluator.model(), toCompute);
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
    return run(batch, Map.of());
  }

  /**
   * The captured values for {@code batch}, with the values in {@code held} (those of the part's
   * inputs and of the captured values that are not graph inputs nor computed) taken from there.
   *
   * @throws InvalidInputException when the batch does not fit the model's inputs, or a value is
   *     not a float32 tensor
   * @throws IllegalStateException when a value is neither computed, fed nor held
   */
  public Map<String, CapturedValue> run(Batch batch, Map<String, HeldValue> held) {
    Map<String, CapturedValue> out = new LinkedHashMap<>();
    Map<String, OnnxTensor> feed = evaluator.feedUnpadded(batch);
    try {
      execute(feed, batch.toString(), held, result -> {
        for (String v : values) {
          CapturedValue c;
          if (computed.contains(v)) {
            c = copy(v, result.get(v).orElseThrow(), batch);
          } else if (held.containsKey(v)) {
            c = held.get(v).captured();
          } else if (feed.containsKey(v)) {
            c = copy(v, feed.get(v), batch);
          } else {
            throw new IllegalStateException("value " + v + " is neither computed by " + this + " nor fed nor held");
          }
          out.put(v, c);
        }
      });
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
    return out;
  }

  /** The part's outputs for {@code batch} and the values {@code held}, of any tensor type. */
  public Map<String, HeldValue> compute(Batch batch, Map<String, HeldValue> held) {
    Map<String, OnnxTensor> feed = evaluator.feedUnpadded(batch);
    try {
      return compute(feed, batch.toString(), held);
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * The part's outputs for the graph inputs {@code feed} (the caller's, left open) and the values
   * {@code held}, of any tensor type; {@code what} names the feed in messages.
   */
  Map<String, HeldValue> compute(Map<String, OnnxTensor> feed, String what, Map<String, HeldValue> held) {
    Map<String, HeldValue> out = new LinkedHashMap<>();
    execute(feed, what, held, result -> {
      for (String v : computed) {
        out.put(v, HeldValue.of(v, (OnnxTensor) result.get(v).orElseThrow()));
      }
    });
    return out;
  }

  /** What a run does with the session's result (null when nothing is computed). */
  private interface Reader {
    void read(OrtSession.Result result);
  }

  /** Runs the session on the graph inputs {@code feed} (left open) and the values held. */
  private void execute(Map<String, OnnxTensor> feed, String what, Map<String, HeldValue> held, Reader reader) {
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("activation capture of " + values + " is closed");
      }
    }
    List<OnnxTensor> heldTensors = new ArrayList<>();
    try {
      if (session == null) {
        reader.read(null);
        return;
      }
      Map<String, OnnxTensor> sessionFeed = new HashMap<>();
      for (String name : sessionInputs) {
        OnnxTensor t = feed.get(name);
        if (t == null) {
          HeldValue h = held.get(name);
          if (h == null) {
            throw new IllegalStateException(this + " reads " + name + ", which is neither fed nor held");
          }
          t = h.tensor(evaluator.env());
          heldTensors.add(t);
        }
        sessionFeed.put(name, t);
      }
      try (OrtSession.Result result = session.run(sessionFeed, computed)) {
        reader.read(result);
      } catch (OrtException e) {
        throw new IllegalStateException(evaluator.model().source().onnxPath()
            + ": ONNX Runtime failed capturing " + computed + " on " + what + ": " + e.getMessage(), e);
      }
    } finally {
      heldTensors.forEach(OnnxTensor::close);
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
      OrtRuntime.close(session, sessionOptions);
    } finally {
      owned.forEach(OnnxTensor::close);
    }
  }

  @Override
  public String toString() {
    return "ActivationCapture[" + values + (replacements.isEmpty() ? "" : ", replacing " + replacements.keySet()) + "]";
  }
}
