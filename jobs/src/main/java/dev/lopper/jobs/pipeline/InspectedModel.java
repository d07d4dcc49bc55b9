package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.metrics.Scoring;
import dev.lopper.model.ModelInputs;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.ReadableNames;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelCost;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ModelStructure;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model as the driver loaded and checked it ({@link Inspect}), and what the sweep needs to
 * know of it.
 *
 * @param model the loaded model, its source qualified so that executors load the same files
 * @param tensors the prunable tensors that {@code model.include} and {@code model.exclude} select
 * @param rowShape one row's input shape, without the batch dimension
 * @param classes the number of classes the model's output scores (0 unless it is a classifier)
 * @param scoring how the model's outputs are scored, from the model and the decision metric
 * @param inputs the model's graph inputs
 * @param structure the model's channel groups when the criterion is structured, else null
 * @param items what the sweep prunes: the tensors, or the channel groups
 * @param cost parameters and multiply-accumulates per channel group and weight; null when neither
 *     a structured criterion nor {@code allocation.unit: flops} needs them
 */
public record InspectedModel(OnnxModel model, List<PrunableTensor> tensors, long[] rowShape, int classes,
    Scoring scoring, ModelInputs inputs, ModelStructure structure, List<SweepItem> items, ChannelCost cost) {

  public InspectedModel {
    tensors = List.copyOf(tensors);
    items = List.copyOf(items);
  }

  /** Whether the model takes token sequences (integer inputs) rather than one float features input. */
  public boolean sequences() {
    return inputs.sequences();
  }

  /** Whether the sweep's items are channel groups (a structured criterion). */
  public boolean structured() {
    return structure != null;
  }

  /**
   * The readable names of the anonymous tensors that masks may cover, by tensor name: the prunable
   * tensors' ({@link PrunableTensor#readableName()}) and, in a structured run, those of every
   * channel group's members (the node that reads the tensor). Tensors with names of their own are
   * not in it.
   */
  public Map<String, String> readableNames() {
    Map<String, String> names = new LinkedHashMap<>();
    for (PrunableTensor t : tensors) {
      if (t.readableName() != null) {
        names.put(t.name(), t.readableName());
      }
    }
    if (structure != null) {
      for (ChannelGroup group : structure.groups()) {
        for (ChannelGroup.Member m : group.members()) {
          String readable = ReadableNames.of(m.tensor(), m.node());
          if (readable != null) {
            names.putIfAbsent(m.tensor(), readable);
          }
        }
      }
    }
    return names;
  }

  /** The dense weights of the prunable tensors, in order. */
  public List<WeightTensor> weights() {
    return tensors.stream().map(t -> model.weight(t.name())).toList();
  }
}
