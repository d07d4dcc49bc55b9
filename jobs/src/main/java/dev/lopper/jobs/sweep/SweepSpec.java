package dev.lopper.jobs.sweep;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.CompensatingChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.criteria.SparseGptCriterion;
import dev.lopper.criteria.SparsityPattern;
import dev.lopper.metrics.Scoring;
import dev.lopper.model.ModelSource;
import dev.lopper.model.PrunableTensor;
import dev.lopper.structure.BiasCompensation;
import dev.lopper.structure.ChannelGroup;
import java.io.Serializable;
import java.util.List;
import java.util.Map;
import org.apache.spark.broadcast.Broadcast;

/**
 * What a sensitivity sweep evaluates: the dense baseline and every (item, sparsity) variant of one
 * model, pruned by one criterion, where an item is a tensor or a channel group ({@link SweepItem}).
 * Small and serialisable: tasks receive this, never the model.
 *
 * @param model where the model comes from
 * @param checksum the model's checksum as the driver read it
 * @param tensors the prunable tensors with their consumers, which the criterion's context knows
 * @param criterion the criterion's registry name
 * @param sparsities the sparsity grid, ascending, in (0, 1]
 * @param batchSize rows per ONNX Runtime call
 * @param threads ONNX Runtime intra-op threads per task
 * @param tensorsPerTask items evaluated by one task; 0 chooses so that every core gets work
 * @param scoring how the model's outputs are scored (a classifier's classes, a language model's
 *     tokens, fidelity to the dense outputs)
 * @param items what is swept, in order: one item per tensor of {@code tensors}, or channel groups
 * @param channelGroups every channel group of the model, indexed by id (structured criteria need
 *     them in their context); empty for unstructured sweeps
 * @param pattern where pruned weights may fall (unstructured or N:M)
 * @param dampening SparseGPT's dampening ({@code calibration.dampening})
 * @param statistics the tensors' calibration statistics by tensor name, broadcast once to the
 *     executors (Gram matrices can be large), for activation-aware criteria; null for others
 * @param compensation where a channel criterion's variants add the removed channels' mean
 *     contribution ({@code structure.compensate}); null for none
 */
public record SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
    double[] sparsities, int batchSize, int threads, int tensorsPerTask, Scoring scoring, List<SweepItem> items,
    List<ChannelGroup> channelGroups, SparsityPattern pattern, double dampening,
    Broadcast<Map<String, InputStatistics>> statistics, BiasCompensation compensation) implements Serializable {

  public SweepSpec {
    tensors = List.copyOf(tensors);
    sparsities = sparsities.clone();
    items = List.copyOf(items);
    channelGroups = List.copyOf(channelGroups);
  }

  /** A sweep without bias compensation. */
  public SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
      double[] sparsities, int batchSize, int threads, int tensorsPerTask, Scoring scoring, List<SweepItem> items,
      List<ChannelGroup> channelGroups, SparsityPattern pattern, double dampening,
      Broadcast<Map<String, InputStatistics>> statistics) {
    this(model, checksum, tensors, criterion, sparsities, batchSize, threads, tensorsPerTask, scoring, items,
        channelGroups, pattern, dampening, statistics, null);
  }

  /** An unstructured sweep without calibration statistics. */
  public SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
      double[] sparsities, int batchSize, int threads, int tensorsPerTask, Scoring scoring, List<SweepItem> items,
      List<ChannelGroup> channelGroups) {
    this(model, checksum, tensors, criterion, sparsities, batchSize, threads, tensorsPerTask, scoring, items,
        channelGroups, SparsityPattern.UNSTRUCTURED, SparseGptCriterion.DEFAULT_DAMPENING, null);
  }

  /** A classifier's sweep of {@code items}. */
  public SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
      double[] sparsities, int batchSize, int threads, int tensorsPerTask, int classes, List<SweepItem> items,
      List<ChannelGroup> channelGroups) {
    this(model, checksum, tensors, criterion, sparsities, batchSize, threads, tensorsPerTask,
        Scoring.classification(classes), items, channelGroups);
  }

  /** A classifier's sweep of every tensor of {@code tensors} on its own. */
  public SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
      double[] sparsities, int batchSize, int threads, int tensorsPerTask, int classes) {
    this(model, checksum, tensors, criterion, sparsities, batchSize, threads, tensorsPerTask, classes,
        tensors.stream().map(SweepItem::of).toList(), List.of());
  }

  @Override
  public double[] sparsities() {
    return sparsities.clone();
  }

  /** The criterion, with the run's settings. */
  public PruningCriterion criterionInstance() {
    PruningCriterion c = Criteria.configured(criterion, dampening);
    return compensation != null && c instanceof ChannelCriterion channels ? new CompensatingChannelCriterion(channels)
        : c;
  }

  /**
   * The context the criterion selects in: the tensors' consumers, the channel groups, the pattern
   * and the calibration statistics (read from the broadcast in a task).
   */
  public CriterionContext context() {
    CriterionContext.Builder builder = CriterionContext.of(tensors).toBuilder().optChannelGroups(channelGroups)
        .optPattern(pattern).optCompensation(compensation);
    if (statistics != null) {
      statistics.value().forEach(builder::optInputStatistics);
    }
    return builder.build();
  }
}
