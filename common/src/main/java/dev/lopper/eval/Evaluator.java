package dev.lopper.eval;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import onnx.Onnx;

/**
 * Evaluates a model and its pruned variants on ONNX Runtime.
 *
 * <p>The evaluator wraps every dense float weight of the model in an {@link OnnxTensor} once,
 * without copying (the tensors read the model's direct buffers), and shares them among all its
 * sessions. A {@link Session} is an ONNX Runtime session built from the model's graph
 * ({@link OnnxModel#graphBytes()}, whose float initializers are external-data headers) with the
 * weights supplied as external initializers; a variant's session supplies its replacement tensors
 * instead of the dense ones of the same names. Measured: building a session takes about a
 * millisecond for the sample models, and {@code SessionOptions.addInitializer} silently keeps the
 * dense Conv weights at full optimisation where external initializers take effect;
 * {@link #checkReplacementsTakeEffect} guards that.
 *
 * <p>A session serves many batches (build one per variant and partition, not per batch) and may be
 * used from several threads. Close sessions when done; closing the evaluator closes any still open
 * and then the shared weight tensors.
 *
 * <pre>{@code
 * try (Evaluator evaluator = new Evaluator(model, EvaluatorOptions.defaults());
 *      Evaluator.Session pruned = evaluator.variant(Map.of("fc1.weight", prunedWeight))) {
 *   Logits logits = pruned.logits(batch);
 * }
 * }</pre>
 */
public final class Evaluator implements AutoCloseable {
  /** Rows in the probe batch of {@link #checkReplacementsTakeEffect}. */
  static final int PROBE_ROWS = 2;
  private static final long PROBE_SEED = 0x5EED_10BBE4L;

  private final OnnxModel model;
  private final EvaluatorOptions options;
  private final OrtEnvironment env;
  private final byte[] graph;
  private final String inputName;
  private final long[] inputDims;
  private final String outputName;
  private final Map<String, OnnxTensor> denseTensors;
  private final Set<Session> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /**
   * An evaluator for {@code model}.
   *
   * @throws InvalidInputException when the model does not have exactly one input, of type float,
   *     and at least one output
   */
  public Evaluator(OnnxModel model, EvaluatorOptions options) {
    this.model = model;
    this.options = options;
    String path = model.source().onnxPath();
    List<OnnxModel.ValueInfo> inputs = model.inputs();
    if (inputs.size() != 1) {
      throw new InvalidInputException(path + ": the model has " + inputs.size() + " inputs "
          + inputs + "; Lopper evaluates models with exactly one (the features)");
    }
    if (model.outputs().isEmpty()) {
      throw new InvalidInputException(path + ": the model has no outputs");
    }
    this.inputName = inputs.get(0).name();
    this.inputDims = inputs.get(0).dims();
    this.outputName = model.outputs().get(0).name();
    checkInputIsFloat(path);
    this.env = OrtRuntime.environment();
    this.graph = model.graphBytes();
    Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
    try {
      for (WeightTensor w : model.weights().values()) {
        tensors.put(w.name(), wrap(w));
      }
    } catch (RuntimeException e) {
      tensors.values().forEach(OnnxTensor::close);
      throw e;
    }
    this.denseTensors = Collections.unmodifiableMap(tensors);
  }

  /** An evaluator with {@link EvaluatorOptions#defaults()}. */
  public Evaluator(OnnxModel model) {
    this(model, EvaluatorOptions.defaults());
  }

  /** The model evaluated. */
  public OnnxModel model() {
    return model;
  }

  /** The options sessions are built with. */
  public EvaluatorOptions options() {
    return options;
  }

  /** A session evaluating the dense model; the caller closes it. */
  public Session dense() {
    return variant(Map.of());
  }

  /**
   * A session evaluating the model with the weights in {@code replacements} (keyed by initializer
   * name) instead of the dense ones. The replacement buffers are read in place, not copied: do not
   * change them while the session is open. The caller closes the session.
   *
   * @throws IllegalArgumentException when a replacement names no float initializer of the model or
   *     has another shape
   */
  public Session variant(Map<String, WeightTensor> replacements) {
    checkOpen();
    for (Map.Entry<String, WeightTensor> e : replacements.entrySet()) {
      WeightTensor dense = model.weights().get(e.getKey());
      if (dense == null) {
        throw new IllegalArgumentException(model.source().onnxPath()
            + ": no float initializer named " + e.getKey() + " to replace");
      }
      if (!Arrays.equals(dense.shape(), e.getValue().shape())) {
        throw new IllegalArgumentException("replacement for " + e.getKey() + " has shape "
            + Arrays.toString(e.getValue().shape()) + ", the initializer "
            + Arrays.toString(dense.shape()));
      }
    }
    Map<String, OnnxTensorLike> initializers = new HashMap<>(denseTensors);
    List<OnnxTensor> owned = new ArrayList<>(replacements.size());
    OrtSession.SessionOptions sessionOptions = new OrtSession.SessionOptions();
    try {
      for (Map.Entry<String, WeightTensor> e : replacements.entrySet()) {
        OnnxTensor t = wrap(e.getValue());
        owned.add(t);
        initializers.put(e.getKey(), t);
      }
      sessionOptions.setIntraOpNumThreads(options.intraOpThreads());
      sessionOptions.setInterOpNumThreads(1);
      sessionOptions.setOptimizationLevel(options.optimisation());
      sessionOptions.addExternalInitializers(initializers);
      OrtSession session = env.createSession(graph, sessionOptions);
      Session s = new Session(session, sessionOptions, owned, Map.copyOf(replacements));
      open.add(s);
      return s;
    } catch (OrtException | RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      sessionOptions.close();
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(model.source().onnxPath()
          + ": ONNX Runtime could not build a session: " + e.getMessage(), e);
    }
  }

  /**
   * The number of classes the dense model outputs for rows of {@code rowShape}, learnt by running
   * one row of zeros; for models whose output declares no fixed class dimension.
   */
  public int classes(long[] rowShape) {
    long[] shape = new long[rowShape.length + 1];
    shape[0] = 1;
    System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
    try (Session session = dense()) {
      return session.run(WeightTensor.allocate(WeightTensor.elementCount(rowShape)), shape).classes();
    }
  }

  /**
   * Checks that ONNX Runtime evaluates replaced weights: for each tensor, the model with that
   * tensor zeroed must give different logits than the dense model on a deterministic
   * pseudo-random probe batch of {@value #PROBE_ROWS} rows. Run once when a model is loaded.
   *
   * @throws InvalidInputException naming the first tensor whose zeroing changed nothing
   */
  public void checkReplacementsTakeEffect(List<PrunableTensor> tensors) {
    long[] shape = inputDims.clone();
    shape[0] = shape[0] > 0 ? shape[0] : PROBE_ROWS;
    for (int i = 1; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw new InvalidInputException(model.source().onnxPath() + ": input " + inputName
            + " has shape " + Arrays.toString(inputDims) + "; only its first (batch) dimension"
            + " may be symbolic to build a probe batch");
      }
    }
    FloatBuffer probe = WeightTensor.allocate(WeightTensor.elementCount(shape));
    SplittableRandom random = new SplittableRandom(PROBE_SEED);
    for (int i = 0; i < probe.limit(); i++) {
      probe.put(i, (float) random.nextDouble(-1, 1));
    }
    Logits dense;
    try (Session s = dense()) {
      dense = s.run(probe, shape);
    }
    for (PrunableTensor t : tensors) {
      WeightTensor zeros = WeightTensor.zeros(t.name(), model.weight(t.name()).shape());
      Logits zeroed;
      try (Session s = variant(Map.of(t.name(), zeros))) {
        zeroed = s.run(probe, shape);
      }
      if (zeroed.equals(dense)) {
        throw new InvalidInputException(model.source().onnxPath() + ": zeroing weight tensor "
            + t.name() + " (input " + t.inputIndex() + " of " + t.opType() + " node "
            + t.nodeName() + ") left the output " + outputName + " bitwise unchanged on a probe"
            + " batch: ONNX Runtime did not evaluate the replaced weights, or the tensor has no"
            + " effect on the output");
      }
    }
  }

  /** Closes open sessions, then the shared dense weight tensors. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Session s : List.copyOf(open)) {
      s.close();
    }
    denseTensors.values().forEach(OnnxTensor::close);
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("evaluator of " + model + " is closed");
    }
  }

  private OnnxTensor wrap(WeightTensor w) {
    try {
      // A direct, native-order buffer: ONNX Runtime reads it in place (no copy).
      return OnnxTensor.createTensor(env, w.data().duplicate(), w.shape());
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused tensor " + w.name() + ": "
          + e.getMessage(), e);
    }
  }

  private void checkInputIsFloat(String path) {
    for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
      if (input.getName().equals(inputName) && input.getType().hasTensorType()) {
        int type = input.getType().getTensorType().getElemType();
        if (type != Onnx.TensorProto.DataType.FLOAT_VALUE) {
          throw new InvalidInputException(path + ": input " + inputName + " has element type "
              + Onnx.TensorProto.DataType.forNumber(type) + "; Lopper feeds float features");
        }
      }
    }
  }

  /**
   * One ONNX Runtime session: the dense model or a variant. Thread-safe for {@link #logits};
   * close it when done (it closes its replacement tensors, never the shared dense ones).
   */
  public final class Session implements AutoCloseable {
    private final OrtSession session;
    private final OrtSession.SessionOptions sessionOptions;
    private final List<OnnxTensor> owned;
    private final Map<String, WeightTensor> replacements; // keeps replacement buffers alive
    private final Set<String> requested;
    private boolean sessionClosed;

    private Session(OrtSession session, OrtSession.SessionOptions sessionOptions,
        List<OnnxTensor> owned, Map<String, WeightTensor> replacements) {
      this.session = session;
      this.sessionOptions = sessionOptions;
      this.owned = owned;
      this.replacements = replacements;
      this.requested = Set.of(outputName);
    }

    /** The weights this session uses instead of the dense ones (empty for the dense model). */
    public Map<String, WeightTensor> replacements() {
      return replacements;
    }

    /**
     * The model's first output for the batch: the batch's features are fed, in place, as the
     * model's first input with shape {@code [rows, ...rowShape]}.
     *
     * @throws InvalidInputException when the batch's row shape does not fit the input's fixed
     *     dimensions, or the output is not a float matrix [rows, classes]
     */
    public Logits logits(Batch batch) {
      long[] shape = batch.shape();
      boolean fits = shape.length == inputDims.length;
      for (int i = 0; fits && i < shape.length; i++) {
        fits = inputDims[i] < 0 || inputDims[i] == shape[i];
      }
      if (!fits) {
        throw new InvalidInputException("a batch of rows of shape "
            + Arrays.toString(batch.rowShape()) + " (fed as " + Arrays.toString(shape)
            + ") does not fit input " + inputName + " of " + model.source().onnxPath()
            + ", shape " + Arrays.toString(inputDims) + " (-1: any size); set the rows' shape"
            + " to the input's shape without its first dimension");
      }
      return run(batch.features(), shape);
    }

    Logits run(FloatBuffer features, long[] shape) {
      try (OnnxTensor input = OnnxTensor.createTensor(env, features, shape);
           OrtSession.Result result = session.run(Map.of(inputName, input), requested)) {
        OnnxValue value = result.get(0);
        if (!(value instanceof OnnxTensor out)
            || out.getInfo().type != OnnxJavaType.FLOAT
            || out.getInfo().getShape().length != 2
            || out.getInfo().getShape()[0] != shape[0]
            || out.getInfo().getShape()[1] < 1) {
          throw new InvalidInputException(model.source().onnxPath() + ": output " + outputName
              + " is " + value.getInfo() + " for an input of shape " + Arrays.toString(shape)
              + "; Lopper needs float logits of shape [" + shape[0] + ", classes]");
        }
        int rows = (int) shape[0];
        int classes = Math.toIntExact(out.getInfo().getShape()[1]);
        float[] values = new float[Math.multiplyExact(rows, classes)];
        out.getFloatBuffer().get(values);
        return new Logits(rows, classes, values);
      } catch (OrtException e) {
        throw new IllegalStateException(model.source().onnxPath() + ": ONNX Runtime failed on"
            + " input of shape " + Arrays.toString(shape) + ": " + e.getMessage(), e);
      }
    }

    /** Closes the session and its replacement tensors. Idempotent. */
    @Override
    public synchronized void close() {
      if (sessionClosed) {
        return;
      }
      sessionClosed = true;
      open.remove(this);
      try {
        session.close();
      } catch (OrtException e) {
        throw new IllegalStateException("closing an ONNX Runtime session failed", e);
      } finally {
        owned.forEach(OnnxTensor::close);
        sessionOptions.close();
      }
    }
  }
}
