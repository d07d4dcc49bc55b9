package dev.lopper.eval;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.criteria.ReconstructingCriterion;
import dev.lopper.data.Batch;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.Accumulator;
import dev.lopper.metrics.Scoring;
import dev.lopper.model.ScratchFloats;
import dev.lopper.model.WeightTensor;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import onnx.Onnx;

/**
 * Sensitivity of single tensors, or of tensors pruned together (a channel group), on a fixed set
 * of batches: the dense logits are computed once, then each (tensor, sparsity) variant is
 * evaluated on every batch and tallied against the labels and the dense outputs. This is the whole computation of one sweep unit; Spark tasks run it on
 * their partition, and single-process callers on the whole data set, with the same numbers.
 *
 * <p>Prefix reuse (on by default, {@link Options}): the variants of a tensor differ only from its
 * consumer on, so they are evaluated on the suffix of the model's {@link GraphCut} there, from the
 * cut activations the dense model computes; the logits are bitwise those of the full evaluation
 * (tested on the sample models). A cut whose dense suffix does not reproduce the dense logits bit
 * for bit on the first batch (ONNX Runtime fused the graph differently across it) is not used: its
 * variants run on the whole model. Where the activations come from:
 * <ul>
 *   <li>for the tensors named at construction, from the dense pass itself: it outputs every cut
 *       value they need and holds them in direct buffers, rows × cut size × 4 bytes per float
 *       value, as long as the total stays within {@link Options#activationBytes()} (tensors whose
 *       cut would exceed it are left to the next case);
 *   <li>otherwise, from a prefix run per {@link #sweep} (the dense graph up to the cut, so the
 *       part before the cut runs once per tensor instead of once per variant), holding at most
 *       {@link Options#activationBytes()} (at least one batch) and processing the batches in
 *       chunks beyond that, each chunk building the variants' suffix sessions again.
 * </ul>
 * How a cut's variants run ({@link Route}): by one suffix session that reads the weights as inputs
 * ({@link PreparedCut#fedLogits}) where that reproduces the dense logits, else by a suffix session
 * per variant, else on the whole model. A variant's masked copy is written into one buffer per
 * tensor, in full for the first and then only where the next mask differs; {@link #costs()} says
 * where each item's time went.
 *
 * <pre>{@code
 * TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
 * Tally dense = sweep.baseline();
 * Tally[] byGrid = sweep.sweep(model.weight("conv1.weight"), Criteria.byName("magnitude"), grid, context);
 * }</pre>
 */
public final class TensorSweep {
  private final Evaluator evaluator;
  private final List<Batch> batches;
  private final List<Logits> dense;
  private final Scoring scoring;
  private final Options options;
  private final Map<String, Onnx.TypeProto> heldTypes;
  private final Set<String> kept;
  private final List<Map<String, Activation>> held;
  private final List<ItemCost> costs = new ArrayList<>();

  /** How an item's variants were evaluated, fastest first. */
  public enum Route {
    /** By one suffix session reading the item's weights as inputs ({@link PreparedCut#fedLogits}). */
    FED_SUFFIX,
    /** By a suffix session per variant, the variant's weights constant in it. */
    SUFFIX_SESSIONS,
    /** By a session of the whole model per variant, from the batches. */
    WHOLE_MODEL
  }

  /**
   * Where one {@link #sweep}'s time went.
   *
   * @param item the item's weights
   * @param route how its variants were evaluated
   * @param variants how many
   * @param rows rows each variant was evaluated on
   * @param weightNanos choosing and writing the variants' weights (selection over the whole grid,
   *     masked copies, or a reconstructing criterion's solves)
   * @param evaluationNanos the rest: building sessions, the cut's checks, the runs, the tallies
   */
  public record ItemCost(List<String> item, Route route, int variants, long rows, long weightNanos,
      long evaluationNanos) {

    /** One line for the log. */
    public String describe() {
      return String.format(java.util.Locale.ROOT, "%s: %d variants on %d rows, %s, %.2f s"
          + " (weights %.2f s, evaluation %.2f s)", item.size() == 1 ? item.get(0) : item, variants,
          rows, route.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '),
          (weightNanos + evaluationNanos) / 1e9, weightNanos / 1e9, evaluationNanos / 1e9);
    }
  }

  /**
   * How variants are evaluated.
   *
   * @param prefixReuse evaluate variants from the cut activations (true) or each from the model's
   *     input (false)
   * @param activationBytes most bytes of cut activations held: by the dense pass for the tensors
   *     named at construction, and by one sweep's prefix run (at least one batch's)
   */
  public record Options(boolean prefixReuse, long activationBytes) implements Serializable {
    /** Default bound on held cut activations: 256 MiB. */
    public static final long DEFAULT_ACTIVATION_BYTES = 256L << 20;

    public Options {
      if (activationBytes < 0) {
        throw new IllegalArgumentException("activationBytes must be >= 0, got " + activationBytes);
      }
    }

    /** Prefix reuse on, at most {@value #DEFAULT_ACTIVATION_BYTES} bytes of activations held. */
    public static Options defaults() {
      return new Options(true, DEFAULT_ACTIVATION_BYTES);
    }

    /** Every variant evaluated on the whole model (for tests and benchmarks). */
    public static Options fullEvaluation() {
      return new Options(false, DEFAULT_ACTIVATION_BYTES);
    }

    /** These options with {@code bytes} as the bound on held activations. */
    public Options withActivationBytes(long bytes) {
      return new Options(prefixReuse, bytes);
    }
  }

  /**
   * Computes the dense logits of every batch; {@code classes} is the model's number of outputs.
   * Prefix reuse is on ({@link Options#defaults()}), each sweep running its own prefix.
   */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes) {
    this(evaluator, batches, classes, List.of(), Options.defaults());
  }

  /** Computes the dense logits of every batch; variants are evaluated as {@code options} say. */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes, Options options) {
    this(evaluator, batches, classes, List.of(), options);
  }

  /**
   * Computes the dense logits of every batch and, with prefix reuse on, holds the cut activations
   * of {@code tensors} (weight names whose {@link #sweep}s follow) from the same dense pass, within
   * {@link Options#activationBytes()}.
   *
   * @throws IllegalArgumentException when a name is no float initializer of the model
   */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes,
      Collection<String> tensors, Options options) {
    this(evaluator, batches, Scoring.classification(classes), options, tensors.stream().map(Set::of).toList());
  }

  /**
   * Like {@link #TensorSweep(Evaluator, List, int, Collection, Options)} for items pruned as a
   * whole: each element of {@code items} names the weights one {@link #sweep(List, PruningCriterion,
   * double[], CriterionContext)} replaces together (a channel group's tensors), and the dense pass
   * holds the activations at that item's cut.
   */
  public static TensorSweep forItems(Evaluator evaluator, List<Batch> batches, int classes,
      List<? extends Collection<String>> items, Options options) {
    return forItems(evaluator, batches, Scoring.classification(classes), items, options);
  }

  /**
   * Like {@link #forItems(Evaluator, List, int, List, Options)} for outputs scored as {@code
   * scoring} says (a classifier's, a language model's, or fidelity to the dense outputs).
   */
  public static TensorSweep forItems(Evaluator evaluator, List<Batch> batches, Scoring scoring,
      List<? extends Collection<String>> items, Options options) {
    return new TensorSweep(evaluator, batches, scoring, options, items.stream().map(Set::copyOf).toList());
  }

  private TensorSweep(Evaluator evaluator, List<Batch> batches, Scoring scoring, Options options,
      List<Set<String>> items) {
    this.evaluator = evaluator;
    this.scoring = scoring;
    this.options = options;
    this.batches = List.copyOf(batches);
    this.dense = new ArrayList<>(batches.size());
    this.held = new ArrayList<>(batches.size());
    List<List<String>> cuts = new ArrayList<>();
    Set<String> wanted = new LinkedHashSet<>();
    if (options.prefixReuse()) {
      for (Set<String> item : items) {
        GraphCut cut = GraphCut.of(evaluator.model(), item);
        if (cut.affectsOutput() && !cut.computedValues().isEmpty()) {
          cuts.add(cut.computedValues());
          wanted.addAll(cut.computedValues());
        }
      }
    }
    if (wanted.isEmpty() || batches.isEmpty()) {
      heldTypes = Map.of();
      kept = Set.of();
      try (VariantSession session = evaluator.dense()) {
        for (Batch batch : batches) {
          dense.add(session.logits(batch));
          held.add(Map.of());
        }
      }
      return;
    }
    try (DensePass pass = evaluator.densePass(wanted)) {
      heldTypes = pass.types();
      DensePass.Result first = pass.run(batches.get(0), wanted);
      kept = Set.copyOf(withinBudget(cuts, first.values(), batches.get(0).rows()));
      dense.add(first.logits());
      held.add(only(first.values(), kept));
      for (int b = 1; b < batches.size(); b++) {
        DensePass.Result r = pass.run(batches.get(b), kept);
        dense.add(r.logits());
        held.add(r.values());
      }
    }
  }

  /** The cut values to hold: whole cuts, in order, while all batches' activations fit. */
  private Set<String> withinBudget(List<List<String>> cuts, Map<String, Activation> firstBatch,
      int firstRows) {
    long rows = batches.stream().mapToLong(Batch::rows).sum();
    Set<String> keep = new LinkedHashSet<>();
    long total = 0;
    for (List<String> values : cuts) {
      long extra = 0;
      for (String v : values) {
        if (!keep.contains(v)) {
          extra += firstRows == 0 ? 0 : firstBatch.get(v).bytes() / firstRows * rows;
        }
      }
      if (total + extra <= options.activationBytes()) {
        keep.addAll(values);
        total += extra;
      }
    }
    return keep;
  }

  private static Map<String, Activation> only(Map<String, Activation> values, Set<String> keep) {
    Map<String, Activation> out = new HashMap<>(values);
    out.keySet().retainAll(keep);
    return Map.copyOf(out);
  }

  /** Bytes of cut activations the dense pass holds for later sweeps. */
  public long heldBytes() {
    return held.stream().flatMap(m -> m.values().stream()).mapToLong(Activation::bytes).sum();
  }

  /** How this sweep evaluates variants. */
  public Options options() {
    return options;
  }

  /** The dense model's tally on these batches. */
  public Tally baseline() {
    return tally(dense);
  }

  /** The dense logits, batch by batch. */
  public List<Logits> denseLogits() {
    return List.copyOf(dense);
  }

  /** Tallies of {@code weight} pruned by {@code criterion} at each of {@code sparsities}. */
  public Tally[] sweep(WeightTensor weight, PruningCriterion criterion, double[] sparsities,
      CriterionContext context) {
    return sweep(List.of(weight), criterion, sparsities, context);
  }

  /**
   * Tallies of {@code weights} pruned together by {@code criterion} at each of {@code sparsities}:
   * one swept item, a single tensor or a channel group's tensors (which a structured criterion
   * prunes as a whole, see {@link dev.lopper.criteria.ChannelCriterion}).
   */
  public Tally[] sweep(List<WeightTensor> weights, PruningCriterion criterion, double[] sparsities,
      CriterionContext context) {
    long start = System.nanoTime();
    Map<String, WeightTensor> byName = new LinkedHashMap<>();
    weights.forEach(w -> byName.put(w.name(), w));
    List<Supplier<Map<String, WeightTensor>>> variants = new ArrayList<>(sparsities.length);
    if (criterion instanceof ReconstructingCriterion reconstructing) {
      // The variants are the criterion's own weights (pruned and updated), not masked dense ones;
      // they may change tensors beyond the given ones (a compensated consumer's bias).
      Set<String> changed = new LinkedHashSet<>(byName.keySet());
      for (ReconstructingCriterion.PrunedWeights pruned : reconstructing.pruneGrid(weights, sparsities, context)) {
        variants.add(pruned::weights);
        changed.addAll(pruned.weights().keySet());
      }
      return evaluateAll(changed, variants, System.nanoTime() - start);
    }
    List<MaskSet> masks = criterion.selectGrid(weights, sparsities, context);
    // Masked copies are made when their variant runs, into one buffer per tensor: a variant's
    // tensors are read only by its own runs, which end before the next variant is made. Each
    // buffer is written in full once; later variants change only the positions where their mask
    // differs from the one the buffer holds (Mask#applyOver).
    // The buffers are freed when the item is done, not when the collector finds them: the sweep
    // makes little garbage on the heap, and large models' copies piled up (ScratchFloats).
    Map<String, ScratchFloats> buffers = new HashMap<>();
    Map<String, Mask> held = new HashMap<>();
    for (MaskSet maskSet : masks) {
      variants.add(() -> {
        Map<String, WeightTensor> out = new LinkedHashMap<>();
        for (Mask mask : maskSet.masks()) {
          WeightTensor weight = byName.get(mask.name());
          if (weight == null) {
            throw new IllegalStateException("criterion " + criterion + " made a mask for "
                + mask.name() + ", not one of the swept " + byName.keySet());
          }
          FloatBuffer buffer = buffers.computeIfAbsent(mask.name(), n -> new ScratchFloats(mask.size()))
              .floats();
          Mask before = held.put(mask.name(), mask);
          out.put(mask.name(), before == null ? mask.apply(weight, buffer)
              : mask.applyOver(weight, buffer, before));
        }
        return out;
      });
    }
    try {
      return evaluateAll(byName.keySet(), variants, System.nanoTime() - start);
    } finally {
      // Every run that read the copies has ended and closed its tensors.
      buffers.values().forEach(ScratchFloats::close);
    }
  }

  /** Where each {@link #sweep} (and {@link #evaluate}) of this object spent its time, in order. */
  public List<ItemCost> costs() {
    return List.copyOf(costs);
  }

  /** The tally of the model with {@code replacements} in place of the dense weights. */
  public Tally evaluate(Map<String, WeightTensor> replacements) {
    if (replacements.isEmpty()) {
      return baseline();
    }
    return evaluateAll(replacements.keySet(), List.of(() -> replacements), 0)[0];
  }

  /**
   * Tallies of variants that all replace {@code weights} (some of them, at least); {@code
   * weightNanos} were spent choosing them, and their cost is added to {@link #costs()}.
   */
  private Tally[] evaluateAll(Collection<String> weights,
      List<Supplier<Map<String, WeightTensor>>> variants, long weightNanos) {
    long start = System.nanoTime();
    long[] making = {weightNanos};
    // A variant's weights, timed: masked copies or a criterion's solved weights.
    IntFunction<Map<String, WeightTensor>> weightsOf = v -> {
      long t = System.nanoTime();
      Map<String, WeightTensor> w = variants.get(v).get();
      making[0] += System.nanoTime() - t;
      return w;
    };
    long rows = batches.stream().mapToLong(Batch::rows).sum();
    Route route = Route.WHOLE_MODEL;
    Tally[] out = new Tally[variants.size()];
    GraphCut cut = options.prefixReuse() ? GraphCut.of(evaluator.model(), weights) : null;
    if (cut != null && cut.affectsOutput()) {
      boolean fromHeld = kept.containsAll(cut.computedValues());
      try (PreparedCut prepared = fromHeld ? evaluator.cut(cut, heldTypes) : evaluator.cut(cut)) {
        if (fedReproducesDense(prepared, fromHeld)) {
          route = Route.FED_SUFFIX;
        } else if (suffixReproducesDense(prepared, fromHeld)) {
          route = Route.SUFFIX_SESSIONS;
        }
        if (route != Route.WHOLE_MODEL) {
          evaluateOnSuffix(prepared, fromHeld, route == Route.FED_SUFFIX, weightsOf, out);
        }
      }
    }
    if (route == Route.WHOLE_MODEL) {
      for (int v = 0; v < out.length; v++) {
        out[v] = evaluateFull(weightsOf.apply(v));
      }
    }
    long total = System.nanoTime() - start + weightNanos;
    costs.add(new ItemCost(List.copyOf(weights), route, out.length, rows, making[0],
        total - making[0]));
    return out;
  }

  /**
   * Evaluates every variant on the suffix of {@code prepared}: by its one fed session ({@code
   * fed}), or by a session per variant. The cut's activations are those the dense pass holds, or
   * come from its prefix in chunks of at most {@link Options#activationBytes()}, every variant
   * evaluated on a chunk before the next is computed.
   */
  private void evaluateOnSuffix(PreparedCut prepared, boolean fromHeld, boolean fed,
      IntFunction<Map<String, WeightTensor>> weightsOf, Tally[] out) {
    Accumulator[] acc = new Accumulator[out.length];
    for (int v = 0; v < acc.length; v++) {
      acc[v] = scoring.accumulator();
    }
    int next = 0;
    while (next < batches.size()) {
      int first = next;
      List<CutActivations> chunk = new ArrayList<>();
      try {
        long bytes = 0;
        long last = 0;
        do {
          Batch batch = batches.get(next);
          CutActivations a = fromHeld
              ? prepared.activations(batch, held.get(next))
              : prepared.activations(batch);
          next++;
          chunk.add(a);
          last = fromHeld ? 0 : a.bytes();
          bytes += last;
        } while (next < batches.size() && bytes + last <= options.activationBytes());
        for (int v = 0; v < acc.length; v++) {
          if (fed) {
            Map<String, WeightTensor> weights = weightsOf.apply(v);
            for (int i = 0; i < chunk.size(); i++) {
              int b = first + i;
              acc[v].add(prepared.fedLogits(chunk.get(i), weights), batches.get(b), dense.get(b));
            }
            continue;
          }
          try (VariantSession session = prepared.variant(weightsOf.apply(v))) {
            for (int i = 0; i < chunk.size(); i++) {
              int b = first + i;
              acc[v].add(session.logits(chunk.get(i)), batches.get(b), dense.get(b));
            }
          }
        }
      } finally {
        chunk.forEach(CutActivations::close);
      }
    }
    for (int v = 0; v < out.length; v++) {
      out[v] = acc[v].toTally();
    }
  }

  /**
   * Whether the dense suffix, fed the cut activations of the first batch, gives that batch's dense
   * logits bit for bit. ONNX Runtime optimises the suffix as a graph of its own, and a fusion can
   * differ across the cut: on the residual sample, the NCHWc layout fuses the skip connection's Add
   * into the last convolution of the whole model but cannot when the skip value is a graph input of
   * the suffix, so the suffix's logits differ (docs/design.md, "Prefix reuse", has the case). Such a
   * cut is not used; its variants are evaluated on the whole model. The verdict, a property of
   * the graphs and kernels rather than of the rows, is kept by the evaluator: made once per cut in
   * an executor, by whichever task gets there first.
   */
  private boolean suffixReproducesDense(PreparedCut prepared, boolean fromHeld) {
    return evaluator.cutVerdict(prepared.graph().weights(), fromHeld, false, w -> {
      CutActivations first = fromHeld ? prepared.activations(batches.get(0), held.get(0))
          : prepared.activations(batches.get(0));
      try (VariantSession session = prepared.variant(Map.of())) {
        return session.logits(first).equals(dense.get(0));
      } finally {
        first.close();
      }
    });
  }

  /**
   * Whether the suffix session that reads the cut's weights as inputs ({@link
   * PreparedCut#fedLogits}), fed the dense weights and the first batch's cut activations, gives
   * that batch's dense logits bit for bit: then every variant of the cut is evaluated by that one
   * session. Gemm and MatMul pass (without pre-packing a fed weight runs the same kernel as a
   * constant one); a convolution that ONNX Runtime puts in its blocked layout only for constant
   * weights does not, and its variants get sessions of their own. A suffix ONNX Runtime cannot
   * build with the weights as inputs does not pass either. Kept by the evaluator like {@link
   * #suffixReproducesDense}'s verdict.
   */
  private boolean fedReproducesDense(PreparedCut prepared, boolean fromHeld) {
    if (!evaluator.readsWeightsAsInputs()) {
      return false; // pre-packed sessions: a fed weight would run another GEMM
    }
    return evaluator.cutVerdict(prepared.graph().weights(), fromHeld, true, w -> {
      CutActivations first = fromHeld ? prepared.activations(batches.get(0), held.get(0))
          : prepared.activations(batches.get(0));
      try {
        return prepared.fedLogits(first, Map.of()).equals(dense.get(0));
      } catch (IllegalStateException e) {
        return false; // ONNX Runtime could not build or run the suffix with the weights as inputs
      } finally {
        first.close();
      }
    });
  }

  private Tally evaluateFull(Map<String, WeightTensor> replacements) {
    Accumulator acc = scoring.accumulator();
    try (VariantSession session = evaluator.variant(replacements)) {
      for (int b = 0; b < batches.size(); b++) {
        acc.add(session.logits(batches.get(b)), batches.get(b), dense.get(b));
      }
    }
    return acc.toTally();
  }

  private Tally tally(List<Logits> logits) {
    Accumulator acc = scoring.accumulator();
    for (int b = 0; b < batches.size(); b++) {
      acc.add(logits.get(b), batches.get(b), dense.get(b));
    }
    return acc.toTally();
  }
}
