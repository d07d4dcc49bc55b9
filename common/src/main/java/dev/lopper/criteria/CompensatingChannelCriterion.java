package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.BiasCompensation;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ChannelSelection;
import dev.lopper.structure.TensorSlice;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link ChannelCriterion} whose variants carry FLAP's bias compensation ({@link
 * BiasCompensation}): the channels it keeps are the wrapped criterion's, and each variant's weights
 * are the group's tensors under the masks plus the consumers' compensated biases (tensors outside
 * the group), so that a sensitivity sweep measures a group with its compensation. It needs the
 * compensation and the consumers' statistics in its {@link CriterionContext}.
 *
 * <pre>{@code
 * CriterionContext context = CriterionContext.builder().optChannelGroups(structure.groups())
 *     .optCompensation(BiasCompensation.of(model, structure.groups()))
 *     .optInputStatistics("conv2.weight", stats).build();
 * List<PrunedWeights> variants = new CompensatingChannelCriterion(ChannelCriterion.l1())
 *     .pruneGrid(tensors, sparsities, context);
 * }</pre>
 */
public final class CompensatingChannelCriterion implements ReconstructingCriterion {
  private final ChannelCriterion channels;

  /** Compensates the channels {@code channels} removes. */
  public CompensatingChannelCriterion(ChannelCriterion channels) {
    this.channels = channels;
  }

  /** The criterion that chooses the channels. */
  public ChannelCriterion channels() {
    return channels;
  }

  @Override
  public String name() {
    return channels.name();
  }

  @Override
  public List<PrunedWeights> pruneGrid(List<WeightTensor> tensors, double[] sparsities, CriterionContext context) {
    BiasCompensation compensation = context.compensation().orElseThrow(() -> new InvalidInputException(
        "criterion " + name() + " with bias compensation needs the compensation in its context"
            + " (CriterionContext.Builder.optCompensation)"));
    List<ChannelGroup> groups = context.channelGroups();
    Map<String, WeightTensor> byName = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (WeightTensor t : tensors) {
      byName.put(t.name(), t);
      shapes.put(t.name(), t.shape());
    }
    Map<String, InputStatistics> statistics = new LinkedHashMap<>();
    for (ChannelGroup g : groups) {
      for (ChannelGroup.Member m : g.members()) {
        if (m.role() == ChannelGroup.Role.INPUT && byName.containsKey(m.tensor())) {
          context.inputStatistics(m.tensor()).ifPresent(s -> statistics.put(m.tensor(), s));
        }
      }
    }
    List<PrunedWeights> out = new ArrayList<>(sparsities.length);
    for (ChannelSelection selection : channels.selections(tensors, sparsities, context)) {
      Map<String, WeightTensor> biases = compensation.biases(groups, selection, byName, statistics);
      Map<String, long[]> allShapes = new LinkedHashMap<>(shapes);
      biases.values().forEach(b -> allShapes.putIfAbsent(b.name(), b.shape()));
      Map<String, TensorSlice> slices = selection.slices(groups, allShapes);
      List<Mask> masks = new ArrayList<>(tensors.size());
      Map<String, WeightTensor> weights = new LinkedHashMap<>();
      for (WeightTensor t : BiasCompensation.apply(byName, biases).values()) {
        TensorSlice slice = slices.get(t.name());
        Mask mask = slice == null ? Mask.none(t.name(), t.shape()) : slice.mask();
        if (byName.containsKey(t.name())) {
          masks.add(mask);
        }
        weights.put(t.name(), slice == null ? t : mask.apply(t));
      }
      out.add(new PrunedWeights(MaskSet.of(masks), weights));
    }
    return out;
  }

  @Override
  public String toString() {
    return "CompensatingChannelCriterion[" + channels.name() + "]";
  }
}
