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
import dev.lopper.data.BatchInput;
import dev.lopper.model.ModelInputs;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
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
 * instead of the dense ones of the same names. ONNX Runtime copies external initializers into each
 * session, so for large weights the sweep instead feeds them as graph inputs to one session per cut
 * ({@link PreparedCut#fedLogits}; docs/design.md, "Evaluating a variant"). {@code SessionOptions.addInitializer}
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
  /** Length of a probe batch's symbolic sequence dimensions. */
  static final int PROBE_POSITIONS = 8;
  private static final long PROBE_SEED = 0x5EED_10BBE4L;

  private final OnnxModel model;
  private final EvaluatorOptions options;
  private final OrtEnvironment env;
  private final byte[] graph;
  private final ModelInputs inputs;
  private final String outputName;
  private final Map<String, OnnxTensor> denseTensors;
  private final boolean freeBatchDimension; // every input's first dimension is free: see fedRows
  private final boolean fed; // readsWeightsAsInputs
  private final Set<VariantSession> open = ConcurrentHashMap.newKeySet();
  private final Set<PreparedCut> openCuts = ConcurrentHashMap.newKeySet();
  private final Map<CutKey, Boolean> cutVerdicts = new ConcurrentHashMap<>();
  private volatile Boolean fedModel; // fedModelReproduces's verdict, once asked

  /**
   * A cut, by its weights, with its activations held from a dense pass or from its prefix, its
   * weights fed as inputs of one suffix session or constant in sessions of their own.
   */
  private record CutKey(Set<String> weights, boolean held, boolean fed) {}
  private volatile boolean closed;

  /**
   * An evaluator for {@code model}.
   *
   * @throws InvalidInputException when the model has no inputs or no outputs
   */
  public Evaluator(OnnxModel model, EvaluatorOptions options) {
    this.model = model;
    this.options = options;
    String path = model.source().onnxPath();
    this.inputs = ModelInputs.of(model);
    this.freeBatchDimension = inputs.inputs().stream().allMatch(i -> i.dims().length > 0 && i.dims()[0] < 0);
    this.fed = model.weights().values().stream().mapToLong(WeightTensor::size).max().orElse(0)
        >= options.fedFromElements();
    if (inputs.inputs().isEmpty()) {
      throw new InvalidInputException(path + ": the model has no inputs to feed");
    }
    if (model.outputs().isEmpty()) {
      throw new InvalidInputException(path + ": the model has no outputs");
    }
    this.outputName = model.outputs().get(0).name();
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

  /**
   * Whether this evaluator reads weights as graph inputs where it can: the sweep's suffix sessions
   * ({@link PreparedCut#fedLogits}) and its dense pass then copy no weights, and every session that
   * computes outputs runs unpacked (a fed weight cannot be pre-packed, and the two GEMMs round
   * differently). Chosen by the model's largest float weight against {@link
   * EvaluatorOptions#fedFromElements()}: for small weights the pre-packed GEMM's speed is worth a
   * session per variant, for large ones the sessions' copies cost more than the runs.
   */
  public boolean readsWeightsAsInputs() {
    return fed;
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

  /**
   * A dense pass that also yields {@code values}; the caller closes it. It reads the weights in
   * place, as inputs, when that computes what constant weights do ({@link #fedModelReproduces}).
   */
  DensePass densePass(Collection<String> values) {
    checkOpen();
    return new DensePass(this, values, fedModelReproduces());
  }

  /**
   * Whether the whole model with every float weight fed as a graph input computes, on the probe
   * batch ({@link #probe()}), the outputs of the model with them constant, bit for bit: true of
   * Gemm and MatMul layers (sessions here do not pre-pack), false where ONNX Runtime rewrites an
   * operator only for constant weights (the NCHWc convolutions of the digits CNN). Asked once per
   * evaluator; the check builds one session of each kind.
   */
  boolean fedModelReproduces() {
    if (!fed) {
      return false;
    }
    Boolean verdict = fedModel;
    if (verdict == null) {
      synchronized (this) {
        if (fedModel == null) {
          Map<String, OnnxTensor> probe = probe();
          try (VariantSession constant = dense();
              DensePass fed = new DensePass(this, List.of(), true)) {
            Logits expected = constant.run(probe, probeRows(), "a probe batch");
            fedModel = fed.run(probe, probeRows(), "a probe batch", Set.of()).logits().equals(expected);
          } catch (IllegalStateException e) {
            fedModel = false; // ONNX Runtime could not build or run the model with its weights as inputs
          } finally {
            probe.values().forEach(OnnxTensor::close);
          }
        }
        verdict = fedModel;
      }
    }
    return verdict;
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

  /**
   * A session on {@code graphBytes} with {@code initializers}, built with this evaluator's options,
   * that computes outputs ({@link VariantSession}, {@link PreparedCut}, {@link DensePass}): it does
   * not pre-pack constant weights, so that a weight fed as a graph input is multiplied by the same
   * kernel, with the same bits, as a constant one ({@link PreparedCut#fedLogits}: one session for
   * all of a tensor's variants), and so that no session holds a packed copy of its weights. The
   * unpacked GEMM takes another kernel for a product of one row, which {@link #feed} avoids.
   */
  OrtSession createSession(byte[] graphBytes, Map<String, OnnxTensorLike> initializers,
      OrtSession.SessionOptions sessionOptions) {
    return createSession(graphBytes, initializers, sessionOptions, !fed);
  }

  /**
   * A session like {@link #createSession(byte[], Map, OrtSession.SessionOptions)}, pre-packing
   * constant weights when {@code prepack} (ONNX Runtime's default kernels: {@link
   * ActivationCapture}'s sessions, fed batches of any size, one row included). Pre-packed and
   * unpacked products differ in the last bits (the packed GEMM sums K in other blocks), so values
   * of the two kinds are never compared with each other.
   */
  OrtSession createSession(byte[] graphBytes, Map<String, OnnxTensorLike> initializers,
      OrtSession.SessionOptions sessionOptions, boolean prepack) {
    try {
      sessionOptions.setIntraOpNumThreads(options.intraOpThreads());
      sessionOptions.setInterOpNumThreads(1);
      sessionOptions.setOptimizationLevel(options.optimisation());
      if (!prepack) {
        sessionOptions.addConfigEntry("session.disable_prepacking", "1");
      }
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
    try (VariantSession session = dense();
        OnnxTensor zeros = tensor(WeightTensor.allocate(WeightTensor.elementCount(rowShape)), shape)) {
      return session.run(Map.of(inputs.inputs().get(0).name(), zeros), 1, "a row of zeros").classes();
    }
  }

  /**
   * Checks that ONNX Runtime evaluates replaced weights: for each tensor, the model with that
   * tensor zeroed must compute something other than the dense model on a deterministic
   * pseudo-random probe batch ({@link #probe()}). Run once when a model is loaded.
   *
   * <p>Each tensor is zeroed alone, through the same external initializers and at the same
   * optimisation as every variant, but evaluated only up to the next value that carries all of its
   * effect: the tensors in graph order are cut into runs at single-value cuts ({@link
   * GraphSegments#singleValueCuts}: for a decoder, the residual stream after each attention and
   * each MLP), and each run's tensors are zeroed on the part of the graph from the run's start to
   * the next cut (the output for the last run), fed the dense values held at its start, and compared
   * bit for bit with the dense part fed the same values. Every path from such a tensor to the output
   * goes through that next cut, so a cut value left unchanged means an output left unchanged. The
   * sessions are the size of half a block, not of the model: on a 12-block width-768 GPT decoder
   * (73 tensors) the probe takes about 6 s where zeroing each tensor in the whole model took 57 s
   * (docs/design.md, "Evaluating a variant").
   *
   * @return the dense model's output on the probe batch, for checks of the output's shape
   * @throws InvalidInputException naming a tensor the output does not depend on (checked before
   *     any session is built), or else the first tensor, in graph order, whose zeroing changed
   *     nothing
   */
  public Logits checkReplacementsTakeEffect(List<PrunableTensor> tensors) {
    Map<String, Integer> position = new HashMap<>();
    for (int n = 0; n < model.nodes().size(); n++) {
      position.putIfAbsent(model.nodes().get(n).getName(), n);
    }
    List<PrunableTensor> ordered = new ArrayList<>(tensors);
    ordered.sort(Comparator.comparingInt(t -> position.getOrDefault(t.nodeName(), Integer.MAX_VALUE)));
    Map<String, PrunableTensor> byName = new HashMap<>();
    for (PrunableTensor t : ordered) {
      if (!GraphCut.of(model, Set.of(t.name())).affectsOutput()) {
        throw new InvalidInputException(zeroing(t) + " cannot change the output " + outputName
            + ": no path leads from the tensor to the output, so it has no effect on it");
      }
      byName.put(t.name(), t);
    }
    // Runs of tensors between single-value cuts; each run is compared at the next cut, the last at the output.
    List<String> names = ordered.stream().map(PrunableTensor::name).toList();
    List<String> cuts = GraphSegments.singleValueCuts(model, names);
    List<List<String>> runs = new ArrayList<>();
    List<String> at = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      if (i == 0 || cuts.get(i) != null) {
        if (i > 0) {
          at.add(cuts.get(i));
        }
        runs.add(new ArrayList<>());
      }
      runs.get(runs.size() - 1).add(names.get(i));
    }
    at.add(outputName);
    Logits dense;
    Map<String, OnnxTensor> probe = probe();
    String what = "a probe batch";
    try {
      try (VariantSession s = dense()) {
        dense = s.run(probe, probeRows(), what);
      }
      if (runs.isEmpty()) {
        return dense;
      }
      GraphSegments segments = GraphSegments.of(model, runs, at.stream().map(List::of).toList());
      Set<String> frontier = new LinkedHashSet<>();
      for (int g = 0; g < segments.steps(); g++) {
        frontier.addAll(segments.frontier(g));
      }
      Map<String, HeldValue> held = Map.of();
      if (!frontier.isEmpty()) {
        try (ActivationCapture values = ActivationCapture.unpackedSegment(this, frontier,
            GraphCut.computing(model, frontier), Map.of())) {
          held = values.compute(probe, what, Map.of());
        }
      }
      for (int g = 0; g < segments.steps(); g++) {
        Onnx.ModelProto part = segments.capture(g, held);
        String target = at.get(g);
        HeldValue reference;
        try (ActivationCapture c = ActivationCapture.unpackedSegment(this, List.of(target), part, Map.of())) {
          reference = c.compute(probe, what, held).get(target);
        }
        for (String name : runs.get(g)) {
          WeightTensor zeros = WeightTensor.zeros(name, model.weight(name).shape());
          HeldValue zeroed;
          try (ActivationCapture c = ActivationCapture.unpackedSegment(this, List.of(target), part, Map.of(name, zeros))) {
            if (!c.replacements().containsKey(name)) {
              throw new IllegalStateException("the probe's part for " + runs.get(g) + " does not read " + name);
            }
            zeroed = c.compute(probe, what, held).get(target);
          }
          if (zeroed.bitwiseEquals(reference)) {
            throw new InvalidInputException(zeroing(byName.get(name)) + " left the output "
                + outputName + " bitwise unchanged on a probe batch: ONNX Runtime did not"
                + " evaluate the replaced weights, or the tensor has no effect on the output");
          }
        }
      }
      return dense;
    } finally {
      probe.values().forEach(OnnxTensor::close);
    }
  }

  /** The start of the probe's messages: which tensor was zeroed, where the model reads it. */
  private String zeroing(PrunableTensor t) {
    return model.source().onnxPath() + ": zeroing weight tensor " + t.name() + " (input "
        + t.inputIndex() + " of " + t.opType() + " node " + t.nodeName() + ")";
  }

  /** Rows of the probe batch: the inputs' fixed batch size, else {@value #PROBE_ROWS}. */
  private int probeRows() {
    long rows = inputs.inputs().get(0).dims().length > 0 ? inputs.inputs().get(0).dims()[0] : -1;
    return rows > 0 ? Math.toIntExact(rows) : PROBE_ROWS;
  }

  /** Length of the probe batch's symbolic sequence dimensions. */
  public int probePositions() {
    long[] dims = inputs.inputs().get(0).dims();
    return dims.length > 1 && dims[1] > 0 ? Math.toIntExact(dims[1]) : PROBE_POSITIONS;
  }

  /**
   * A deterministic pseudo-random probe batch of {@link #probeRows()} rows for every input: floats
   * in [-1, 1), token ids below the embedding table's rows, other integer inputs (attention masks)
   * 1; symbolic dimensions besides the first are {@value #PROBE_POSITIONS} long.
   */
  private Map<String, OnnxTensor> probe() {
    SplittableRandom random = new SplittableRandom(PROBE_SEED);
    Map<String, OnnxTensor> out = new LinkedHashMap<>();
    try {
      for (ModelInputs.Input input : inputs.inputs()) {
        long[] shape = input.dims();
        if (shape.length == 0) {
          throw new InvalidInputException(model.source().onnxPath() + ": input " + input
              + " is a scalar; Lopper feeds inputs whose first dimension is the batch");
        }
        shape[0] = probeRows();
        for (int i = 1; i < shape.length; i++) {
          if (shape[i] < 0 && input.isFloat()) {
            throw new InvalidInputException(model.source().onnxPath() + ": input " + input
                + " has symbolic dimensions besides the first (batch) one; set data.input-shape");
          }
          shape[i] = shape[i] < 0 ? PROBE_POSITIONS : shape[i];
        }
        int n = Math.toIntExact(WeightTensor.elementCount(shape));
        OnnxTensor t;
        if (input.isFloat()) {
          FloatBuffer values = WeightTensor.allocate(n);
          for (int i = 0; i < n; i++) {
            values.put(i, (float) random.nextDouble(-1, 1));
          }
          t = tensor(values, shape);
        } else if (input.batchType() != null) {
          long bound = input.vocabulary() > 0 ? input.vocabulary() : 1;
          long[] values = new long[n];
          for (int i = 0; i < n; i++) {
            values[i] = input.vocabulary() > 0 ? random.nextLong(bound) : 1;
          }
          t = integers(input, values, shape);
        } else {
          throw new InvalidInputException(model.source().onnxPath() + ": input " + input
              + " has a type Lopper cannot feed (float, int64 or int32)");
        }
        out.put(input.name(), t);
      }
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(OnnxTensor::close);
      throw e;
    }
  }

  /**
   * Whether the cut at {@code weights} (its activations held from a dense pass, or from its prefix
   * session; its weights fed to one suffix session, or constant in a session per variant)
   * reproduces the whole model bit for bit: {@code check}'s answer, asked once per cut and kept,
   * shared by every sweep on this evaluator (every task of an executor).
   */
  boolean cutVerdict(Set<String> weights, boolean held, boolean fed,
      Function<Set<String>, Boolean> check) {
    return cutVerdicts.computeIfAbsent(new CutKey(Set.copyOf(weights), held, fed),
        k -> check.apply(k.weights()));
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

  /** The weight as an ONNX Runtime tensor reading its buffer in place. */
  OnnxTensor wrap(WeightTensor w) {
    try {
      // A direct, native-order buffer: ONNX Runtime reads it in place (no copy).
      return OnnxTensor.createTensor(env, w.data().duplicate(), w.shape());
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused tensor " + w.name() + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * The batch's inputs as ONNX Runtime tensors of the model's inputs, read in place; the caller
   * closes them (before the batch). A batch of one input feeds a model of one input whatever its
   * name (a classifier's features column); otherwise every model input is fed from the batch
   * input of its name.
   *
   * @throws InvalidInputException when a model input has no batch input, or a batch input's shape
   *     does not fit the model input's fixed dimensions
   */
  Map<String, OnnxTensor> feedUnpadded(Batch batch) {
    return feed(batch, false);
  }

  /**
   * Like {@link #feedUnpadded} for the sessions that compute outputs, which do not pre-pack: a
   * batch of one row is fed as two copies of the row when every input's first dimension is free
   * ({@link #fedRows}). ONNX Runtime's unpacked GEMM multiplies a single row by a kernel of its
   * own, whose sums round differently; fed twice, the row takes the kernel of every other batch,
   * so a row's outputs do not depend on the batch it lands in. The outputs' first row is the
   * row's ({@link #toLogits} reads only it).
   */
  Map<String, OnnxTensor> feed(Batch batch) {
    return feed(batch, fedRows(batch.rows()) != batch.rows());
  }

  /** Rows fed for a batch of {@code rows}: 2 for a single row when the inputs allow it. */
  int fedRows(int rows) {
    return rows == 1 && fed && freeBatchDimension ? 2 : rows;
  }

  private Map<String, OnnxTensor> feed(Batch batch, boolean twice) {
    List<BatchInput> given = batch.inputs();
    Map<String, OnnxTensor> out = new LinkedHashMap<>();
    try {
      for (ModelInputs.Input input : inputs.inputs()) {
        BatchInput b = given.size() == 1 && inputs.inputs().size() == 1 ? given.get(0)
            : given.stream().filter(g -> g.name().equals(input.name())).findFirst().orElse(null);
        if (b == null) {
          throw new InvalidInputException(model.source().onnxPath() + ": model input " + input
              + " has no column in the batch; the batch has " + given);
        }
        checkFits(batch, b, input);
        if (twice) {
          long[] shape = b.shape().clone();
          shape[0] = 2;
          out.put(input.name(), tensor(twice(b.buffer()), shape));
        } else {
          out.put(input.name(), tensor(b.buffer(), b.shape()));
        }
      }
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(OnnxTensor::close);
      throw e;
    }
  }

  /** A direct buffer holding {@code row}'s elements twice, one copy after the other. */
  private static java.nio.Buffer twice(java.nio.Buffer row) {
    int n = row.remaining();
    if (row instanceof FloatBuffer f) {
      FloatBuffer out = ByteBuffer.allocateDirect(2 * n * Float.BYTES).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      out.put(f.duplicate()).put(f.duplicate()).flip();
      return out;
    } else if (row instanceof LongBuffer l) {
      LongBuffer out = ByteBuffer.allocateDirect(2 * n * Long.BYTES).order(ByteOrder.nativeOrder())
          .asLongBuffer();
      out.put(l.duplicate()).put(l.duplicate()).flip();
      return out;
    } else if (row instanceof IntBuffer i) {
      IntBuffer out = ByteBuffer.allocateDirect(2 * n * Integer.BYTES).order(ByteOrder.nativeOrder())
          .asIntBuffer();
      out.put(i.duplicate()).put(i.duplicate()).flip();
      return out;
    }
    throw new IllegalArgumentException("no tensor of " + row);
  }

  /** The names of the model inputs the batches feed. */
  Set<String> inputNames() {
    return Set.copyOf(inputs.names());
  }

  /** The model's inputs. */
  public ModelInputs inputs() {
    return inputs;
  }

  private void checkFits(Batch batch, BatchInput b, ModelInputs.Input input) {
    long[] shape = b.shape();
    long[] dims = input.dims();
    boolean fits = shape.length == dims.length && b.type() == input.batchType();
    for (int i = 0; fits && i < shape.length; i++) {
      fits = dims[i] < 0 || dims[i] == shape[i];
    }
    if (!fits) {
      throw new InvalidInputException("a batch of rows of shape "
          + Arrays.toString(batch.rowShape()) + " (fed as " + b + ") does not fit input "
          + input + " of " + model.source().onnxPath() + " (-1: any size); set the rows' shape"
          + " to the input's shape without its first dimension");
    }
  }

  private OnnxTensor tensor(java.nio.Buffer values, long[] shape) {
    try {
      if (values instanceof FloatBuffer f) {
        return OnnxTensor.createTensor(env, f, shape);
      } else if (values instanceof java.nio.LongBuffer l) {
        return OnnxTensor.createTensor(env, l, shape);
      } else if (values instanceof java.nio.IntBuffer i) {
        return OnnxTensor.createTensor(env, i, shape);
      }
      throw new IllegalArgumentException("no tensor of " + values);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused an input of shape "
          + Arrays.toString(shape) + ": " + e.getMessage(), e);
    }
  }

  private OnnxTensor integers(ModelInputs.Input input, long[] values, long[] shape) {
    if (input.batchType() == BatchInput.ElementType.INT32) {
      java.nio.IntBuffer b = java.nio.ByteBuffer.allocateDirect(values.length * Integer.BYTES)
          .order(java.nio.ByteOrder.nativeOrder()).asIntBuffer();
      for (long v : values) {
        b.put((int) v);
      }
      return tensor(b.rewind(), shape);
    }
    java.nio.LongBuffer b = java.nio.ByteBuffer.allocateDirect(values.length * Long.BYTES)
        .order(java.nio.ByteOrder.nativeOrder()).asLongBuffer();
    b.put(values);
    return tensor(b.rewind(), shape);
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

  /**
   * A float output {@code [rows, classes]} or {@code [rows, positions, classes]} as logits, or bad
   * input naming what was found.
   */
  Logits toLogits(OnnxValue value, long rows, String what) {
    long[] shape = value instanceof OnnxTensor t ? t.getInfo().getShape() : new long[0];
    if (!(value instanceof OnnxTensor out)
        || out.getInfo().type != OnnxJavaType.FLOAT
        || (shape.length != 2 && shape.length != 3)
        || (shape[0] != rows && shape[0] != fedRows((int) rows))
        || shape[shape.length - 1] < 1 || (shape.length == 3 && shape[1] < 1)) {
      throw new InvalidInputException(model.source().onnxPath() + ": output " + outputName
          + " is " + value.getInfo() + " for " + what + "; Lopper needs a float output of shape ["
          + rows + ", classes] or [" + rows + ", positions, values]");
    }
    int positions = shape.length == 3 ? Math.toIntExact(shape[1]) : 1;
    int classes = Math.toIntExact(shape[shape.length - 1]);
    float[] values = new float[Math.multiplyExact(Math.multiplyExact((int) rows, positions), classes)];
    out.getFloatBuffer().get(values);
    return new Logits((int) rows, positions, classes, values);
  }

  /** ONNX Runtime's view of a prefix output as the type of a suffix input. */
  private static Onnx.TypeProto typeOf(String name, NodeInfo info) {
    if (!(info.getInfo() instanceof TensorInfo tensor)) {
      throw new IllegalStateException("cut value " + name + " is " + info.getInfo()
          + "; Lopper cuts graphs only at tensors");
    }
    return typeProto(name, tensor.onnxType, tensor.getShape(), tensor.getDimensionNames());
  }

  /**
   * A tensor type: {@code onnxType} elements, dimensions {@code dims} (-1: the name in {@code
   * names} at that index if there is one, else open).
   */
  static Onnx.TypeProto typeProto(String name, TensorInfo.OnnxTensorType onnxType, long[] dims, String[] names) {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
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
    String elem = onnxType.name().substring("ONNX_TENSOR_ELEMENT_DATA_TYPE_".length());
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
