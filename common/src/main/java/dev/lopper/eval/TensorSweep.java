package dev.lopper.eval;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.TallyAccumulator;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sensitivity of single tensors, or of tensors pruned together (a channel group), on a fixed set
 * of batches: the dense logits are computed once, then each (tensor, sparsity) variant is
 * evaluated on every batch and tallied against the labels and the dense outputs. This is the whole computation of one sweep unit; Spark tasks run it on
 * their partition, and single-process callers on the whole data set, with the same numbers.
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

  /** Computes the dense logits of every batch; {@code classes} is the model's number of outputs. */
  public TensorSweep(Evaluator evaluator, List<Batch> batches, int classes) {
    this.evaluator = evaluator;
    this.classes = classes;
    this.batches = List.copyOf(batches);
    this.dense = new ArrayList<>(batches.size());
    try (Evaluator.Session session = evaluator.dense()) {
      for (Batch batch : batches) {
        dense.add(session.logits(batch));
      }
    }
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
    List<MaskSet> masks = criterion.selectGrid(weights, sparsities, context);
    Map<String, WeightTensor> dense = new LinkedHashMap<>();
    weights.forEach(w -> dense.put(w.name(), w));
    Tally[] out = new Tally[sparsities.length];
    for (int s = 0; s < sparsities.length; s++) {
      out[s] = evaluate(masks.get(s).apply(dense));
    }
    return out;
  }

  /** The tally of the model with {@code replacements} in place of the dense weights. */
  public Tally evaluate(Map<String, WeightTensor> replacements) {
    List<Logits> logits = new ArrayList<>(batches.size());
    try (Evaluator.Session session = evaluator.variant(replacements)) {
      for (Batch batch : batches) {
        logits.add(session.logits(batch));
      }
    }
    return tally(logits);
  }

  private Tally tally(List<Logits> logits) {
    TallyAccumulator acc = new TallyAccumulator(classes);
    for (int b = 0; b < batches.size(); b++) {
      acc.add(logits.get(b), batches.get(b), dense.get(b));
    }
    return acc.toTally();
  }
}
