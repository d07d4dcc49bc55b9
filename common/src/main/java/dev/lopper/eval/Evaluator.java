package dev.lopper.eval;

import ai.onnxruntime.NodeInfo;
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
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
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
 * <p>Prefix reuse: {@link #cut} prepares a {@link GraphCut} — a session on the dense prefix that
 * turns batches into {@link CutActivations}, and suffix sessions ({@link Cut#variant}) that
 * evaluate variants from them, sharing the same dense weights (only those the suffix reads).
 *
 * <p>A session serves many batches (build one per variant and partition, not per batch) and may be
 * used from several threads. Close sessions when done; closing the evaluator closes any still open
 * (and any open cuts) and then the shared weight tensors.
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
  private final Set<Cut> openCuts = ConcurrentHashMap.newKeySet();
  private final Map<CutKey, Boolean> cutVerdicts = new ConcurrentHashMap<>();

  /** A cut, by its weights, with its activations held from a dense pass or from its prefix. */
  private record CutKey(Set<String> weights, boolean held) {}
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
    checkReplacements(replacements);
    return build(graph, denseTensors, replacements, null);
  }

  /**
   * Prepares evaluation from {@code cut}: builds its prefix session (when some cut value is not a
   * graph input) and its suffix graph, typed from ONNX Runtime's view of the prefix. The caller
   * closes the returned cut, after the activations and sessions made from it.
   *
   * @throws IllegalArgumentException when the cut is of another model or its output does not
   *     depend on its weights (then every variant's logits are the dense ones)
   */
  public Cut cut(GraphCut cut) {
    checkOpen();
    if (cut.model() != model) {
      throw new IllegalArgumentException(cut + " is a cut of " + cut.model() + ", not of " + model);
    }
    if (!cut.affectsOutput()) {
      throw new IllegalArgumentException(model.source().onnxPath() + ": output " + outputName
          + " does not depend on " + cut.weights() + "; there is no suffix to evaluate");
    }
    return new Cut(cut, null);
  }

  private void checkReplacements(Map<String, WeightTensor> replacements) {
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
  }

  /**
   * A session on {@code graphBytes} with {@code weights} as external initializers, the
   * replacements instead of the dense tensors of the same names. ONNX Runtime refuses external
   * initializers the graph does not declare, so a part of the graph gets only its own.
   */
  private Session build(byte[] graphBytes, Map<String, OnnxTensor> weights,
      Map<String, WeightTensor> replacements, Cut cut) {
    Map<String, OnnxTensorLike> initializers = new HashMap<>(weights);
    List<OnnxTensor> owned = new ArrayList<>(replacements.size());
    OrtSession.SessionOptions sessionOptions = new OrtSession.SessionOptions();
    try {
      for (Map.Entry<String, WeightTensor> e : replacements.entrySet()) {
        OnnxTensor t = wrap(e.getValue());
        owned.add(t);
        initializers.put(e.getKey(), t);
      }
      OrtSession session = createSession(graphBytes, initializers, sessionOptions);
      Session s = new Session(session, sessionOptions, owned, Map.copyOf(replacements), cut);
      open.add(s);
      return s;
    } catch (RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      sessionOptions.close();
      throw e;
    }
  }

  private OrtSession createSession(byte[] graphBytes, Map<String, OnnxTensorLike> initializers,
      OrtSession.SessionOptions sessionOptions) {
    try {
      sessionOptions.setIntraOpNumThreads(options.intraOpThreads());
      sessionOptions.setInterOpNumThreads(1);
      sessionOptions.setOptimizationLevel(options.optimisation());
      sessionOptions.addExternalInitializers(initializers);
      return env.createSession(graphBytes, sessionOptions);
    } catch (OrtException e) {
      throw new IllegalStateException(model.source().onnxPath()
          + ": ONNX Runtime could not build a session: " + e.getMessage(), e);
    }
  }

  /** The shared dense tensors of the float initializers {@code part} declares. */
  private Map<String, OnnxTensor> weightsOf(Onnx.ModelProto part) {
    Map<String, OnnxTensor> out = new HashMap<>();
    for (Onnx.TensorProto t : part.getGraph().getInitializerList()) {
      OnnxTensor dense = denseTensors.get(t.getName());
      if (dense != null) {
        out.put(t.getName(), dense);
      }
    }
    return out;
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

  /**
   * Whether the cut at {@code weights} (its activations held from a dense pass, or from its prefix
   * session) reproduces the whole model bit for bit: {@code check}'s answer, asked once per cut and
   * kept, shared by every sweep on this evaluator (every task of an executor).
   */
  boolean cutVerdict(Set<String> weights, boolean held, Function<Set<String>, Boolean> check) {
    return cutVerdicts.computeIfAbsent(new CutKey(Set.copyOf(weights), held), k -> check.apply(k.weights()));
  }

  /** Closes open sessions and cuts, then the shared dense weight tensors. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Session s : List.copyOf(open)) {
      s.close();
    }
    for (Cut c : List.copyOf(openCuts)) {
      c.close();
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

  /** Checks that the batch's rows fit the model's input; its shape as fed otherwise. */
  private long[] checkFits(Batch batch) {
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
    return shape;
  }

  private OnnxTensor features(Batch batch) {
    long[] shape = checkFits(batch);
    try {
      // The batch's direct buffer, read in place.
      return OnnxTensor.createTensor(env, batch.features(), shape);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused a batch of shape "
          + Arrays.toString(shape) + ": " + e.getMessage(), e);
    }
  }

  /**
   * A {@link GraphCut} made ready to evaluate: a session on its prefix, which turns a batch into
   * the cut's {@link CutActivations}, and its suffix graph, on which {@link #variant} builds
   * sessions that read those activations instead of the batch. Suffix sessions get only the dense
   * weights the suffix reads (ONNX Runtime refuses external initializers a graph does not
   * declare). Close the cut when done; activations and sessions made from it are closed on their
   * own.
   *
   * <pre>{@code
   * try (Evaluator.Cut cut = evaluator.cut(GraphCut.of(model, Set.of("fc2.weight")));
   *      CutActivations a = cut.activations(batch);
   *      Evaluator.Session s = cut.variant(Map.of("fc2.weight", pruned))) {
   *   Logits logits = s.logits(a);  // bitwise the logits of evaluator.variant(...).logits(batch)
   * }
   * }</pre>
   */
  public final class Cut implements AutoCloseable {
    private final GraphCut graphCut;
    private final OrtSession prefix; // null: no prefix, or activations held by the caller
    private final OrtSession.SessionOptions prefixOptions;
    private final boolean prefixReadsInput;
    private final Set<String> prefixOutputs;
    private final boolean feedsInput;
    private final byte[] suffix;
    private final Map<String, OnnxTensor> suffixWeights;
    private boolean cutClosed;

    /** A cut with its own prefix session, or with {@code heldTypes} for activations held. */
    private Cut(GraphCut graphCut, Map<String, Onnx.TypeProto> heldTypes) {
      this.graphCut = graphCut;
      this.prefixOutputs = Set.copyOf(graphCut.computedValues());
      this.feedsInput = graphCut.values().contains(inputName);
      Map<String, Onnx.TypeProto> types = new HashMap<>();
      for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
        types.put(input.getName(), input.getType());
      }
      if (heldTypes != null || graphCut.prefixNodes().isEmpty()) {
        prefix = null;
        prefixOptions = null;
        prefixReadsInput = false;
        if (heldTypes != null) {
          types.putAll(heldTypes);
        }
      } else {
        Onnx.ModelProto part = graphCut.prefix();
        prefixOptions = new OrtSession.SessionOptions();
        try {
          prefix = createSession(part.toByteArray(), new HashMap<>(weightsOf(part)), prefixOptions);
        } catch (RuntimeException e) {
          prefixOptions.close();
          throw e;
        }
        try {
          prefixReadsInput = prefix.getInputNames().contains(inputName);
          types.putAll(typesOf(prefix));
        } catch (RuntimeException e) {
          closePrefix();
          throw e;
        }
      }
      Onnx.ModelProto part = graphCut.suffix(types);
      this.suffix = part.toByteArray();
      this.suffixWeights = weightsOf(part);
      openCuts.add(this);
    }

    /** The cut this evaluates. */
    public GraphCut graph() {
      return graphCut;
    }

    /**
     * The cut values for {@code batch}: the prefix's outputs (ONNX Runtime's buffers, kept until
     * the activations are closed) and, when the suffix reads the graph input, the batch's features
     * in place. The caller closes them, before the batch.
     *
     * @throws InvalidInputException when the batch's rows do not fit the model's input
     * @throws IllegalStateException when the cut was made to read activations held by its caller
     */
    public CutActivations activations(Batch batch) {
      checkCutOpen();
      if (prefix == null && !prefixOutputs.isEmpty()) {
        throw new IllegalStateException(graphCut + " reads activations of a dense pass; it has no"
            + " prefix session");
      }
      OnnxTensor features = features(batch);
      OrtSession.Result result = null;
      try {
        Map<String, OnnxTensor> values = new HashMap<>();
        if (prefix != null) {
          Map<String, OnnxTensor> feed = prefixReadsInput ? Map.of(inputName, features) : Map.of();
          result = prefix.run(feed, prefixOutputs);
          for (String v : prefixOutputs) {
            values.put(v, (OnnxTensor) result.get(v).orElseThrow());
          }
        }
        List<OnnxTensor> owned = new ArrayList<>(1);
        if (feedsInput) {
          values.put(inputName, features);
          owned.add(features);
        } else {
          features.close();
        }
        return new CutActivations(this, batch.rows(), values, bytes(values, features), result, owned);
      } catch (OrtException | RuntimeException e) {
        features.close();
        if (result != null) {
          result.close();
        }
        if (e instanceof RuntimeException r) {
          throw r;
        }
        throw new IllegalStateException(model.source().onnxPath() + ": ONNX Runtime failed on the"
            + " prefix of " + graphCut + " for " + batch + ": " + e.getMessage(), e);
      }
    }

    /**
     * The cut values for {@code batch} from activations a {@link DensePass} computed and the
     * caller holds; they are wrapped, not copied, and must stay unchanged while in use.
     */
    CutActivations activations(Batch batch, Map<String, Activation> held) {
      checkCutOpen();
      List<OnnxTensor> owned = new ArrayList<>(prefixOutputs.size() + 1);
      try {
        Map<String, OnnxTensor> values = new HashMap<>();
        long bytes = 0;
        for (String v : prefixOutputs) {
          Activation a = held.get(v);
          if (a == null || a.shape()[0] != batch.rows()) {
            throw new IllegalArgumentException("no activation of " + v + " held for " + batch);
          }
          OnnxTensor t = a.wrap(env);
          owned.add(t);
          values.put(v, t);
          bytes += a.bytes();
        }
        if (feedsInput) {
          OnnxTensor features = features(batch);
          owned.add(features);
          values.put(inputName, features);
        }
        return new CutActivations(this, batch.rows(), values, bytes, null, owned);
      } catch (RuntimeException e) {
        owned.forEach(OnnxTensor::close);
        throw e;
      }
    }

    /**
     * A session evaluating the suffix with {@code replacements} instead of the dense weights; feed
     * it activations of this cut. The caller closes it.
     *
     * @throws IllegalArgumentException when a replacement is not one of the cut's weights, or has
     *     another shape than the initializer
     */
    public Session variant(Map<String, WeightTensor> replacements) {
      checkCutOpen();
      checkReplacements(replacements);
      for (String name : replacements.keySet()) {
        if (!graphCut.weights().contains(name)) {
          throw new IllegalArgumentException("replacement for " + name + " is not one of the"
              + " weights " + graphCut.weights() + " the cut was made for: its consumer may lie"
              + " before the cut");
        }
      }
      return build(suffix, suffixWeights, replacements, this);
    }

    /** Closes the prefix session. Idempotent. */
    @Override
    public synchronized void close() {
      if (!cutClosed) {
        cutClosed = true;
        openCuts.remove(this);
        closePrefix();
      }
    }

    private void closePrefix() {
      if (prefix == null) {
        return;
      }
      try {
        prefix.close();
      } catch (OrtException e) {
        throw new IllegalStateException("closing an ONNX Runtime session failed", e);
      } finally {
        prefixOptions.close();
      }
    }

    private void checkCutOpen() {
      checkOpen();
      if (cutClosed) {
        throw new IllegalStateException(graphCut + " is closed");
      }
    }

    @Override
    public String toString() {
      return "Cut[" + graphCut + "]";
    }
  }

  private static long bytes(Map<String, OnnxTensor> values, OnnxTensor features) {
    long sum = 0;
    for (OnnxTensor t : values.values()) {
      if (t != features) {
        sum += t.getInfo().getNumElements() * t.getInfo().type.size;
      }
    }
    return sum;
  }

  /**
   * A cut whose computed values come from a {@link DensePass} the caller ran and holds (see
   * {@link Cut#activations(Batch, Map)}) rather than from a prefix session of its own;
   * {@code heldTypes} are the pass's {@link DensePass#types()}.
   */
  Cut cut(GraphCut cut, Map<String, Onnx.TypeProto> heldTypes) {
    checkOpen();
    if (cut.model() != model || !cut.affectsOutput()) {
      throw new IllegalArgumentException(cut + " is not a cut of " + model + " with a suffix");
    }
    if (!heldTypes.keySet().containsAll(cut.computedValues())) {
      throw new IllegalArgumentException("the dense pass computes " + heldTypes.keySet()
          + ", not every value of " + cut);
    }
    return new Cut(cut, heldTypes);
  }

  /** A dense pass that also yields {@code values}; the caller closes it. */
  DensePass densePass(Collection<String> values) {
    checkOpen();
    return new DensePass(values);
  }

  /**
   * The whole dense model with some inner values as extra outputs: one run per batch gives the
   * logits and the activations of several cuts at once. Values whose shape is known apart from
   * the batch dimension are written by ONNX Runtime straight into direct buffers of ours (pinned
   * outputs); others are copied there. Either way the garbage collector frees them.
   */
  final class DensePass implements AutoCloseable {
    private final OrtSession session;
    private final OrtSession.SessionOptions sessionOptions;
    private final Map<String, Onnx.TypeProto> types;
    private final Map<String, TensorInfo> infos = new HashMap<>();

    private DensePass(Collection<String> values) {
      sessionOptions = new OrtSession.SessionOptions();
      try {
        byte[] bytes = GraphCut.withOutputs(model, values).toByteArray();
        session = createSession(bytes, new HashMap<>(denseTensors), sessionOptions);
      } catch (RuntimeException e) {
        sessionOptions.close();
        throw e;
      }
      try {
        Map<String, Onnx.TypeProto> all = typesOf(session);
        all.keySet().retainAll(values);
        types = Map.copyOf(all);
        for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
          if (types.containsKey(e.getKey())) {
            infos.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
          }
        }
      } catch (OrtException | RuntimeException e) {
        close();
        throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
      }
    }

    /** ONNX Runtime's types of the extra outputs. */
    Map<String, Onnx.TypeProto> types() {
      return types;
    }

    /** The batch's logits, and the values named in {@code keep} held in direct buffers. */
    Result run(Batch batch, Set<String> keep) {
      long rows = batch.rows();
      Map<String, Activation> held = new HashMap<>();
      Map<String, OnnxValue> pinned = new HashMap<>();
      Set<String> requested = new java.util.HashSet<>();
      requested.add(outputName);
      try (OnnxTensor features = features(batch)) {
        for (String v : keep) {
          TensorInfo info = infos.get(v);
          long[] shape = info.getShape();
          boolean pinnable = shape.length > 0 && shape[0] < 0;
          for (int i = 1; i < shape.length; i++) {
            pinnable &= shape[i] >= 0;
          }
          if (pinnable) {
            shape[0] = rows;
            Activation a = Activation.allocate(shape, info.type);
            held.put(v, a);
            pinned.put(v, a.wrap(env));
          } else {
            requested.add(v);
          }
        }
        try (OrtSession.Result result = session.run(Map.of(inputName, features), requested, pinned)) {
          Logits logits = toLogits(result.get(outputName).orElseThrow(), rows,
              "a dense pass on " + batch);
          for (String v : requested) {
            if (!v.equals(outputName)) {
              held.put(v, Activation.copyOf((OnnxTensor) result.get(v).orElseThrow()));
            }
          }
          return new Result(logits, held);
        }
      } catch (OrtException e) {
        throw new IllegalStateException(model.source().onnxPath() + ": ONNX Runtime failed on "
            + batch + ": " + e.getMessage(), e);
      } finally {
        pinned.values().forEach(OnnxValue::close);
      }
    }

    @Override
    public void close() {
      try {
        session.close();
      } catch (OrtException e) {
        throw new IllegalStateException("closing an ONNX Runtime session failed", e);
      } finally {
        sessionOptions.close();
      }
    }

    /** One batch's dense logits and held activations. */
    record Result(Logits logits, Map<String, Activation> values) {}
  }

  /** ONNX Runtime's types of a session's outputs. */
  private static Map<String, Onnx.TypeProto> typesOf(OrtSession session) {
    try {
      Map<String, Onnx.TypeProto> types = new HashMap<>();
      for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
        types.put(e.getKey(), typeOf(e.getKey(), e.getValue()));
      }
      return types;
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime could not describe a session's outputs: "
          + e.getMessage(), e);
    }
  }

  /** A float matrix [rows, classes] as logits, or bad input naming what was found. */
  private Logits toLogits(OnnxValue value, long rows, String what) {
    if (!(value instanceof OnnxTensor out)
        || out.getInfo().type != OnnxJavaType.FLOAT
        || out.getInfo().getShape().length != 2
        || out.getInfo().getShape()[0] != rows
        || out.getInfo().getShape()[1] < 1) {
      throw new InvalidInputException(model.source().onnxPath() + ": output " + outputName
          + " is " + value.getInfo() + " for " + what + "; Lopper needs float logits of shape ["
          + rows + ", classes]");
    }
    int classes = Math.toIntExact(out.getInfo().getShape()[1]);
    float[] values = new float[Math.multiplyExact((int) rows, classes)];
    out.getFloatBuffer().get(values);
    return new Logits((int) rows, classes, values);
  }

  /** ONNX Runtime's view of a prefix output as the type of a suffix input. */
  private static Onnx.TypeProto typeOf(String name, NodeInfo info) {
    if (!(info.getInfo() instanceof TensorInfo tensor)) {
      throw new IllegalStateException("cut value " + name + " is " + info.getInfo()
          + "; Lopper cuts graphs only at tensors");
    }
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    long[] dims = tensor.getShape();
    String[] names = tensor.getDimensionNames();
    for (int i = 0; i < dims.length; i++) {
      Onnx.TensorShapeProto.Dimension.Builder d = Onnx.TensorShapeProto.Dimension.newBuilder();
      if (dims[i] >= 0) {
        d.setDimValue(dims[i]);
      } else if (i < names.length && !names[i].isEmpty()) {
        d.setDimParam(names[i]);
      }
      shape.addDim(d);
    }
    // The Java enum numbers types its own way; ONNX's enum has the same names.
    String elem = tensor.onnxType.name().substring("ONNX_TENSOR_ELEMENT_DATA_TYPE_".length());
    Onnx.TensorProto.DataType type;
    try {
      type = Onnx.TensorProto.DataType.valueOf(elem);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("cut value " + name + " has element type " + elem
          + ", which the ONNX classes Lopper uses do not know", e);
    }
    return Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
        .setElemType(type.getNumber()).setShape(shape)).build();
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
    private final Cut cut; // null: the whole model, fed batches
    private final Set<String> requested;
    private boolean sessionClosed;

    private Session(OrtSession session, OrtSession.SessionOptions sessionOptions,
        List<OnnxTensor> owned, Map<String, WeightTensor> replacements, Cut cut) {
      this.session = session;
      this.sessionOptions = sessionOptions;
      this.owned = owned;
      this.replacements = replacements;
      this.cut = cut;
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
     * @throws IllegalStateException when this is a suffix session (made by {@link Cut#variant})
     */
    public Logits logits(Batch batch) {
      if (cut != null) {
        throw new IllegalStateException("this session evaluates the suffix of " + cut.graph()
            + "; feed it the cut's activations, not a batch");
      }
      long[] shape = checkFits(batch);
      return run(batch.features(), shape);
    }

    /**
     * The model's first output for the rows whose cut values are {@code activations}; only for
     * sessions made by {@link Cut#variant}, with activations of the same cut.
     *
     * @throws IllegalArgumentException when the activations are of another cut, or this session
     *     evaluates the whole model
     */
    public Logits logits(CutActivations activations) {
      if (cut == null || activations.cut() != cut) {
        throw new IllegalArgumentException("activations of " + activations.cut() + " fed to a"
            + " session of " + (cut == null ? "the whole model" : cut));
      }
      return run(activations.values(), activations.rows(), "the activations of " + cut.graph());
    }

    Logits run(FloatBuffer features, long[] shape) {
      try (OnnxTensor input = OnnxTensor.createTensor(env, features, shape)) {
        return run(Map.of(inputName, input), shape[0], "input of shape " + Arrays.toString(shape));
      } catch (OrtException e) {
        throw new IllegalStateException("ONNX Runtime refused input of shape "
            + Arrays.toString(shape) + ": " + e.getMessage(), e);
      }
    }

    private Logits run(Map<String, ? extends OnnxTensorLike> inputs, long rows, String what) {
      try (OrtSession.Result result = session.run(inputs, requested)) {
        return toLogits(result.get(0), rows, what);
      } catch (OrtException e) {
        throw new IllegalStateException(model.source().onnxPath() + ": ONNX Runtime failed on "
            + what + ": " + e.getMessage(), e);
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
