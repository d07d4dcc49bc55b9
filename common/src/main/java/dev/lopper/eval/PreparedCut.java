package dev.lopper.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * A {@link GraphCut} made ready to evaluate by an {@link Evaluator} ({@link Evaluator#cut}): a
 * session on its prefix, which turns a batch into the cut's {@link CutActivations}, and its suffix
 * graph, on which {@link #variant} builds sessions that read those activations instead of the
 * batch. Suffix sessions get only the dense weights the suffix reads (ONNX Runtime refuses external
 * initializers a graph does not declare). Close the cut when done; activations and sessions made
 * from it are closed on their own.
 *
 * <pre>{@code
 * try (PreparedCut cut = evaluator.cut(GraphCut.of(model, Set.of("fc2.weight")));
 *      CutActivations a = cut.activations(batch);
 *      VariantSession s = cut.variant(Map.of("fc2.weight", pruned))) {
 *   Logits logits = s.logits(a);  // bitwise the logits of evaluator.variant(...).logits(batch)
 * }
 * }</pre>
 */
public final class PreparedCut implements AutoCloseable {
  private final Evaluator evaluator;
  private final GraphCut graphCut;
  private final OrtSession prefix; // null: no prefix, or activations held by the caller
  private final OrtSession.SessionOptions prefixOptions;
  private final Set<String> prefixInputs;
  private final Set<String> prefixOutputs;
  private final Set<String> fedInputs;
  private final byte[] suffix;
  private final Map<String, OnnxTensor> suffixWeights;
  private final List<String> fedWeights; // every float weight the suffix reads, fed by fedLogits
  private final Map<String, Onnx.TypeProto> types;
  private OrtSession fed; // the suffix reading the cut's weights as inputs, built on first use
  private OrtSession.SessionOptions fedOptions;
  private boolean cutClosed;

  /**
   * A cut of {@code evaluator}'s model with its own prefix session, or with {@code heldTypes} (not
   * null) for activations held from a {@link DensePass}.
   */
  PreparedCut(Evaluator evaluator, GraphCut graphCut, Map<String, Onnx.TypeProto> heldTypes) {
    this.evaluator = evaluator;
    this.graphCut = graphCut;
    this.prefixOutputs = Set.copyOf(graphCut.computedValues());
    Set<String> fed = new java.util.HashSet<>(graphCut.values());
    fed.retainAll(evaluator.inputNames());
    this.fedInputs = Set.copyOf(fed);
    Map<String, Onnx.TypeProto> types = new HashMap<>();
    for (Onnx.ValueInfoProto input : evaluator.model().graph().getGraph().getInputList()) {
      types.put(input.getName(), input.getType());
    }
    if (heldTypes != null || graphCut.prefixNodes().isEmpty()) {
      prefix = null;
      prefixOptions = null;
      prefixInputs = Set.of();
      if (heldTypes != null) {
        types.putAll(heldTypes);
      }
    } else {
      Onnx.ModelProto part = graphCut.prefix();
      prefixOptions = new OrtSession.SessionOptions();
      try {
        prefix = evaluator.createSession(part.toByteArray(),
            new HashMap<>(evaluator.weightsOf(part)), prefixOptions);
      } catch (RuntimeException e) {
        prefixOptions.close();
        throw e;
      }
      try {
        prefixInputs = Set.copyOf(prefix.getInputNames());
        types.putAll(Evaluator.typesOf(prefix));
      } catch (RuntimeException e) {
        closePrefix();
        throw e;
      }
    }
    this.types = Map.copyOf(types);
    Onnx.ModelProto part = graphCut.suffix(types);
    this.suffix = part.toByteArray();
    this.suffixWeights = evaluator.weightsOf(part);
    this.fedWeights = List.copyOf(new java.util.TreeSet<>(suffixWeights.keySet()));
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
    Map<String, OnnxTensor> feed = evaluator.feed(batch);
    OrtSession.Result result = null;
    try {
      Map<String, OnnxTensor> values = new HashMap<>();
      if (prefix != null) {
        Map<String, OnnxTensor> prefixFeed = new HashMap<>(feed);
        prefixFeed.keySet().retainAll(prefixInputs);
        result = prefix.run(prefixFeed, prefixOutputs);
        for (String v : prefixOutputs) {
          values.put(v, (OnnxTensor) result.get(v).orElseThrow());
        }
      }
      List<OnnxTensor> owned = new ArrayList<>(fedInputs.size());
      for (Map.Entry<String, OnnxTensor> e : feed.entrySet()) {
        if (fedInputs.contains(e.getKey())) {
          values.put(e.getKey(), e.getValue());
          owned.add(e.getValue());
        } else {
          e.getValue().close();
        }
      }
      return new CutActivations(this, batch.rows(), values, bytes(values, owned), result, owned);
    } catch (OrtException | RuntimeException e) {
      feed.values().forEach(OnnxTensor::close);
      if (result != null) {
        result.close();
      }
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(evaluator.model().source().onnxPath() + ": ONNX Runtime"
          + " failed on the prefix of " + graphCut + " for " + batch + ": " + e.getMessage(), e);
    }
  }

  /**
   * The cut values for {@code batch} from activations a {@link DensePass} computed and the
   * caller holds; they are wrapped, not copied, and must stay unchanged while in use.
   */
  CutActivations activations(Batch batch, Map<String, Activation> held) {
    checkCutOpen();
    Map<String, OnnxTensor> feed = fedInputs.isEmpty() ? Map.of() : evaluator.feed(batch);
    try {
      return fromHeld(held, feed, feed.values(), batch.rows(), batch.toString());
    } catch (RuntimeException e) {
      feed.values().forEach(OnnxTensor::close);
      throw e;
    }
  }

  /**
   * Like {@link #activations(Batch, Map)} for {@code feed}, tensors of the model's inputs with
   * {@code rows} rows described as {@code what} (the evaluator's probe batch), which the
   * activations read in place and the caller closes after them.
   */
  CutActivations activations(Map<String, OnnxTensor> feed, int rows, String what,
      Map<String, Activation> held) {
    checkCutOpen();
    return fromHeld(held, feed, List.of(), rows, what);
  }

  /**
   * The held activations wrapped, and the fed cut values from {@code feed}; closing the result
   * closes {@code ownedFeed} too.
   */
  private CutActivations fromHeld(Map<String, Activation> held, Map<String, OnnxTensor> feed,
      Collection<OnnxTensor> ownedFeed, int rows, String what) {
    List<OnnxTensor> wrapped = new ArrayList<>(prefixOutputs.size());
    try {
      Map<String, OnnxTensor> values = new HashMap<>();
      long bytes = 0;
      for (String v : prefixOutputs) {
        Activation a = held.get(v);
        if (a == null) {
          throw new IllegalArgumentException("no activation of " + v + " held for " + what);
        }
        OnnxTensor t = a.wrap(evaluator.env());
        wrapped.add(t);
        values.put(v, t);
        bytes += a.bytes();
      }
      for (String input : fedInputs) {
        values.put(input, feed.get(input));
      }
      List<OnnxTensor> owned = new ArrayList<>(wrapped);
      owned.addAll(ownedFeed);
      return new CutActivations(this, rows, values, bytes, null, owned);
    } catch (RuntimeException e) {
      wrapped.forEach(OnnxTensor::close);
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
  public VariantSession variant(Map<String, WeightTensor> replacements) {
    checkCutOpen();
    evaluator.checkReplacements(replacements);
    for (String name : replacements.keySet()) {
      if (!graphCut.weights().contains(name)) {
        throw new IllegalArgumentException("replacement for " + name + " is not one of the"
            + " weights " + graphCut.weights() + " the cut was made for: its consumer may lie"
            + " before the cut");
      }
    }
    return evaluator.build(suffix, suffixWeights, replacements, this);
  }

  /**
   * The model's first output for the rows whose cut values are {@code activations}, with {@code
   * weights} fed in place of the cut's weights (the dense ones where a weight is not given). One
   * session on the suffix, which reads every float weight of the suffix as a graph input, serves
   * every call: a variant costs its runs, not a session of its own, and no session holds a copy of
   * the weights (ONNX Runtime copies external initializers into each session: 0.3–0.5 s and the
   * tensor's bytes again for a 268 MB tensor). The weights are read in place; the session is built
   * on first use and closed with the cut.
   *
   * <p>The logits are bitwise those of {@link #variant} only when a weight fed as an input is
   * multiplied by the same kernel as a constant one: true of Gemm and MatMul when the evaluator
   * does not pre-pack ({@link EvaluatorOptions#prepacking()}), not of convolutions that ONNX
   * Runtime rewrites to its blocked layout only for constant weights. The caller checks it
   * ({@link TensorSweep} does, once per cut).
   *
   * @throws IllegalArgumentException when the activations are of another cut, or a weight is not
   *     one of the cut's or has another shape than the initializer
   */
  public Logits fedLogits(CutActivations activations, Map<String, WeightTensor> weights) {
    checkCutOpen();
    if (activations.cut() != this) {
      throw new IllegalArgumentException("activations of " + activations.cut() + " fed to " + this);
    }
    evaluator.checkReplacements(weights);
    for (String name : weights.keySet()) {
      if (!graphCut.weights().contains(name)) {
        throw new IllegalArgumentException("weight " + name + " is not one of the weights "
            + graphCut.weights() + " the cut was made for");
      }
    }
    OrtSession session = fedSession();
    Map<String, OnnxTensorLike> feed = new HashMap<>(activations.values());
    List<OnnxTensor> wrapped = new ArrayList<>(weights.size());
    String what = "the activations of " + graphCut;
    try {
      for (String name : fedWeights) {
        WeightTensor w = weights.get(name);
        if (w == null) {
          feed.put(name, evaluator.denseTensors().get(name));
        } else {
          OnnxTensor t = evaluator.wrap(w);
          wrapped.add(t);
          feed.put(name, t);
        }
      }
      try (OrtSession.Result result = session.run(feed, Set.of(evaluator.outputName()))) {
        return evaluator.toLogits(result.get(0), activations.rows(), what);
      }
    } catch (OrtException e) {
      throw new IllegalStateException(evaluator.model().source().onnxPath()
          + ": ONNX Runtime failed on " + what + ": " + e.getMessage(), e);
    } finally {
      wrapped.forEach(OnnxTensor::close);
    }
  }

  private synchronized OrtSession fedSession() {
    if (fed == null) {
      Onnx.ModelProto part = graphCut.suffix(types, suffixWeights.keySet());
      OrtSession.SessionOptions options = new OrtSession.SessionOptions();
      try {
        fed = evaluator.createSession(part.toByteArray(), new HashMap<>(evaluator.weightsOf(part)),
            options);
      } catch (RuntimeException e) {
        options.close();
        throw e;
      }
      fedOptions = options;
    }
    return fed;
  }

  /** Closes the prefix session and the fed suffix session. Idempotent. */
  @Override
  public synchronized void close() {
    if (!cutClosed) {
      cutClosed = true;
      evaluator.closed(this);
      try {
        closePrefix();
      } finally {
        closeFed();
      }
    }
  }

  private void closeFed() {
    OrtRuntime.close(fed, fedOptions);
  }

  private void closePrefix() {
    OrtRuntime.close(prefix, prefixOptions);
  }

  private void checkCutOpen() {
    evaluator.checkOpen();
    if (cutClosed) {
      throw new IllegalStateException(graphCut + " is closed");
    }
  }

  /** Bytes of the computed cut values (the batch's own inputs, {@code fed}, not counted). */
  private static long bytes(Map<String, OnnxTensor> values, List<OnnxTensor> fed) {
    long sum = 0;
    for (OnnxTensor t : values.values()) {
      if (!fed.contains(t)) {
        sum += t.getInfo().getNumElements() * t.getInfo().type.size;
      }
    }
    return sum;
  }

  @Override
  public String toString() {
    return "Cut[" + graphCut + "]";
  }
}
