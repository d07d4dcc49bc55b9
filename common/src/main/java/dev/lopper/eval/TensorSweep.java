package dev.lopper.eval;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.TallyAccumulator;
import dev.lopper.model.WeightTensor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Sensitivity of single tensors on a fixed set of batches: the dense logits are computed once,
 * then each (tensor, sparsity) variant is evaluated on every batch and tallied against the labels
 * and the dense outputs. This is the whole computation of one sweep unit; Spark tasks run it on
 * their partition, and single-process callers on the whole data set, with the same numbers.
 *
 * <p>Prefix reuse (on by default, {@link Options}): the variants of a tensor differ only from its
 * consumer on, so for each {@link #sweep} or {@link #evaluate} the batches go once through the
 * dense prefix up to the {@link GraphCut}, and every variant runs only the suffix from the cut
 * activations. The logits are bitwise those of the full evaluation (tested on the sample models).
 * The activations of all batches are held while the variants run, up to
 * {@link Options#activationBytes()}; beyond that the batches are processed in chunks, each chunk
 * building the variants' suffix sessions again.
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
  private final int classes;
  private final Options options;

  /**
   * How variants are evaluated.
   *
   * @param prefixReuse evaluate variants from the cut activations (true) or each from the model's
   *     input (false)
   * @param activationBytes most bytes of cut activations held at once (at least one batch's are)
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
   * Prefix reuse is on ({@link Options#defaults()}).
   */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes) {
    this(evaluator, batches, classes, Options.defaults());
  }

  /** Computes the dense logits of every batch; variants are evaluated as {@code options} say. */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes, Options options) {
    this.evaluator = evaluator;
    this.classes = classes;
    this.options = options;
    this.batches = List.copyOf(batches);
    this.dense = new ArrayList<>(batches.size());
    try (Evaluator.Session session = evaluator.dense()) {
      for (Batch batch : batches) {
        dense.add(session.logits(batch));
      }
    }
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
    List<MaskSet> masks = criterion.selectGrid(List.of(weight), sparsities, context);
    List<Supplier<Map<String, WeightTensor>>> variants = new ArrayList<>(sparsities.length);
    for (MaskSet mask : masks) {
      // Masked copies are made when their variant runs, so one is held at a time.
      variants.add(() -> mask.apply(Map.of(weight.name(), weight)));
    }
    return evaluateAll(List.of(weight.name()), variants);
  }

  /** The tally of the model with {@code replacements} in place of the dense weights. */
  public Tally evaluate(Map<String, WeightTensor> replacements) {
    if (replacements.isEmpty()) {
      return baseline();
    }
    return evaluateAll(replacements.keySet(), List.of(() -> replacements))[0];
  }

  /** Tallies of variants that all replace {@code weights} (some of them, at least). */
  private Tally[] evaluateAll(java.util.Collection<String> weights,
      List<Supplier<Map<String, WeightTensor>>> variants) {
    GraphCut cut = options.prefixReuse() ? GraphCut.of(evaluator.model(), weights) : null;
    if (cut == null || !cut.affectsOutput()) {
      Tally[] out = new Tally[variants.size()];
      for (int v = 0; v < out.length; v++) {
        out[v] = evaluateFull(variants.get(v).get());
      }
      return out;
    }
    TallyAccumulator[] acc = new TallyAccumulator[variants.size()];
    for (int v = 0; v < acc.length; v++) {
      acc[v] = new TallyAccumulator(classes);
    }
    try (Evaluator.Cut prepared = evaluator.cut(cut)) {
      int next = 0;
      while (next < batches.size()) {
        int first = next;
        List<CutActivations> chunk = new ArrayList<>();
        try {
          long held = 0;
          long last = 0;
          do {
            CutActivations a = prepared.activations(batches.get(next++));
            chunk.add(a);
            last = a.bytes();
            held += last;
          } while (next < batches.size() && held + last <= options.activationBytes());
          for (int v = 0; v < acc.length; v++) {
            try (Evaluator.Session session = prepared.variant(variants.get(v).get())) {
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
    }
    Tally[] out = new Tally[acc.length];
    for (int v = 0; v < out.length; v++) {
      out[v] = acc[v].toTally();
    }
    return out;
  }

  private Tally evaluateFull(Map<String, WeightTensor> replacements) {
    TallyAccumulator acc = new TallyAccumulator(classes);
    try (Evaluator.Session session = evaluator.variant(replacements)) {
      for (int b = 0; b < batches.size(); b++) {
        acc.add(session.logits(batches.get(b)), batches.get(b), dense.get(b));
      }
    }
    return acc.toTally();
  }

  private Tally tally(List<Logits> logits) {
    TallyAccumulator acc = new TallyAccumulator(classes);
    for (int b = 0; b < batches.size(); b++) {
      acc.add(logits.get(b), batches.get(b), dense.get(b));
    }
    return acc.toTally();
  }
}
