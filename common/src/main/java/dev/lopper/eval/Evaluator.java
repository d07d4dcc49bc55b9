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
 * sessions. A {@link VariantSession} is an ONNX Runtime session built from the model's graph
 * ({@link OnnxModel#graphBytes()}, whose float initializers are external-data headers) with the
 * weights supplied as external initializers; a variant's session supplies its replacement tensors
 * instead of the dense ones of the same names. Building a session is cheap enough to build one per
 * variant (see docs/design.md, "Evaluating a variant"). {@code SessionOptions.addInitializer}
 * silently keeps the dense Conv weights at full optimisation where external initializers take
 * effect; {@link #checkReplacementsTakeEffect} guards that.
 *
 * <p>Prefix reuse: {@link #cut} prepares a {@link GraphCut} as a {@link PreparedCut} — a session on
 * the dense prefix that turns batches into {@link CutActivations}, and suffix sessions
 * ({@link PreparedCut#variant}) that evaluate variants from them, sharing the same dense weights
 * (only those the suffix reads); a {@link DensePass} computes the cut activations of many cuts in
 * the dense pass itself.
 *
 * <p>A session serves many batches (build one per variant and partition, not per batch) and may be
 * used from several threads. Close sessions when done; closing the evaluator closes any still open
 * (and any open cuts) and then the shared weight tensors.
 *
 * <pre>{@code
 * try (Evaluator evaluator = new Evaluator(model, EvaluatorOptions.defaults());
 *      VariantSession pruned = evaluator.variant(Map.of("fc1.weight", prunedWeight))) {
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
  private final Set<VariantSession> open = ConcurrentHashMap.newKeySet();
  private final Set<PreparedCut> openCuts = ConcurrentHashMap.newKeySet();
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
  public VariantSession dense() {
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
  public VariantSession variant(Map<String, WeightTensor> replacements) {
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
  public PreparedCut cut(GraphCut cut) {
    checkOpen();
    if (cut.model() != model) {
      throw new IllegalArgumentException(cut + " is a cut of " + cut.model() + ", not of " + model);
    }
    if (!cut.affectsOutput()) {
      throw new IllegalArgumentException(model.source().onnxPath() + ": output " + outputName
          + " does not depend on " + cut.weights() + "; there is no suffix to evaluate");
    }
    return opened(new PreparedCut(this, cut, null));
  }

  /**
   * A cut whose computed values come from a {@link DensePass} the caller ran and holds (see
   * {@link PreparedCut#activations(Batch, Map)}) rather than from a prefix session of its own;
   * {@code heldTypes} are the pass's {@link DensePass#types()}.
   */
  PreparedCut cut(GraphCut cut, Map<String, Onnx.TypeProto> heldTypes) {
    checkOpen();
    if (cut.model() != model || !cut.affectsOutput()) {
      throw new IllegalArgumentException(cut + " is not a cut of " + model + " with a suffix");
    }
    if (!heldTypes.keySet().containsAll(cut.computedValues())) {
      throw new IllegalArgumentException("the dense pass computes " + heldTypes.keySet()
          + ", not every value of " + cut);
    }
    return opened(new PreparedCut(this, cut, heldTypes));
  }

  /** A dense pass that also yields {@code values}; the caller closes it. */
  DensePass densePass(Collection<String> values) {
    checkOpen();
    return new DensePass(this, values);
  }

  /** Checks that every replacement names a float initializer of the model and has its shape. */
  void checkReplacements(Map<String, WeightTensor> replacements) {
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
  VariantSession build(byte[] graphBytes, Map<String, OnnxTensor> weights,
      Map<String, WeightTensor> replacements, PreparedCut cut) {
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
      VariantSession s = new VariantSession(this, session, sessionOptions, owned,
          Map.copyOf(replacements), cut);
      open.add(s);
      return s;
    } catch (RuntimeException e) {
      owned.forEach(OnnxTensor::close);
      sessionOptions.close();
      throw e;
    }
  }

  /** A session on {@code graphBytes} with {@code initializers}, built with this evaluator's options. */
  OrtSession createSession(byte[] graphBytes, Map<String, OnnxTensorLike> initializers,
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
  Map<String, OnnxTensor> weightsOf(Onnx.ModelProto part) {
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
    try (VariantSession session = dense()) {
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
    try (VariantSession s = dense()) {
      dense = s.run(probe, shape);
    }
    for (PrunableTensor t : tensors) {
      WeightTensor zeros = WeightTensor.zeros(t.name(), model.weight(t.name()).shape());
      Logits zeroed;
      try (VariantSession s = variant(Map.of(t.name(), zeros))) {
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
    for (VariantSession s : List.copyOf(open)) {
      s.close();
    }
    for (PreparedCut c : List.copyOf(openCuts)) {
      c.close();
    }
    denseTensors.values().forEach(OnnxTensor::close);
  }

  /** Registers a cut built on this evaluator, so that {@link #close} closes it if its user does not. */
  private PreparedCut opened(PreparedCut cut) {
    openCuts.add(cut);
    return cut;
  }

  /** Forgets a session its user closed. */
  void closed(VariantSession session) {
    open.remove(session);
  }

  /** Forgets a cut its user closed. */
  void closed(PreparedCut cut) {
    openCuts.remove(cut);
  }

  /** The process-wide ONNX Runtime environment the sessions run in. */
  OrtEnvironment env() {
    return env;
  }

  /** The name of the model's (only) input, the features. */
  String inputName() {
    return inputName;
  }

  /** The name of the model's first output, the logits. */
  String outputName() {
    return outputName;
  }

  /** The shared dense weight tensors, by initializer name. */
  Map<String, OnnxTensor> denseTensors() {
    return denseTensors;
  }

  /** Refuses work once the evaluator is closed. */
  void checkOpen() {
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
  long[] checkFits(Batch batch) {
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

  /** The batch's features as an ONNX Runtime tensor of the model's input, read in place. */
  OnnxTensor features(Batch batch) {
    long[] shape = checkFits(batch);
    try {
      // The batch's direct buffer, read in place.
      return OnnxTensor.createTensor(env, batch.features(), shape);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused a batch of shape "
          + Arrays.toString(shape) + ": " + e.getMessage(), e);
    }
  }

  /** ONNX Runtime's types of a session's outputs. */
  static Map<String, Onnx.TypeProto> typesOf(OrtSession session) {
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
  Logits toLogits(OnnxValue value, long rows, String what) {
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
}
