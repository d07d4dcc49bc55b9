package dev.lopper.structure;

import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's channel groups: which weight tensors must lose the same channels, and which cannot be
 * pruned structurally and why. Found by one walk over the ONNX graph ({@link #analyse}); see
 * docs/structured.md for the ops it follows and what blocks a group.
 *
 * <pre>{@code
 * ModelStructure structure = ModelStructure.analyse(model);
 * for (ChannelGroup g : structure.prunableGroups()) {
 *   System.out.println(g.name() + ": " + g.channels() + " channels, tensors " + g.tensors());
 * }
 * CsvTables.write(structure.report().table(), "structure.csv", conf);
 * }</pre>
 */
public final class ModelStructure {
  private final OnnxModel model;
  private final List<ChannelGroup> groups;
  private final Map<String, long[]> shapes;
  private final Map<String, long[]> tensorShapes;
  private final long sequence;

  ModelStructure(OnnxModel model, List<ChannelGroup> groups, Map<String, long[]> shapes, long sequence) {
    this.model = model;
    this.sequence = sequence;
    this.groups = List.copyOf(groups);
    this.shapes = Collections.unmodifiableMap(new LinkedHashMap<>(shapes));
    Map<String, long[]> tensors = new LinkedHashMap<>();
    for (WeightTensor w : model.weights().values()) {
      tensors.put(w.name(), w.shape());
    }
    this.tensorShapes = Collections.unmodifiableMap(tensors);
  }

  /**
   * Finds the channel groups of {@code model}'s graph.
   *
   * @throws dev.lopper.InvalidInputException when the graph's shapes are inconsistent
   */
  public static ModelStructure analyse(OnnxModel model) {
    return ChannelDependencies.analyse(model);
  }

  /** The model analysed. */
  public OnnxModel model() {
    return model;
  }

  /** Every group, prunable or not, indexed by id. */
  public List<ChannelGroup> groups() {
    return groups;
  }

  /** The groups that can be pruned structurally, in id order. */
  public List<ChannelGroup> prunableGroups() {
    return groups.stream().filter(ChannelGroup::prunable).toList();
  }

  /** The group with id {@code id}. */
  public ChannelGroup group(int id) {
    if (id < 0 || id >= groups.size()) {
      throw new IllegalArgumentException("no channel group " + id + "; the model has " + groups.size());
    }
    return groups.get(id);
  }

  /** The group named {@code name} (its producing tensors joined by {@code +}), if any. */
  public Optional<ChannelGroup> group(String name) {
    return groups.stream().filter(g -> g.name().equals(name)).findFirst();
  }

  /** The groups that {@code tensor} is a member of, in id order. */
  public List<ChannelGroup> groupsOf(String tensor) {
    List<ChannelGroup> out = new ArrayList<>();
    for (ChannelGroup g : groups) {
      if (g.members().stream().anyMatch(m -> m.tensor().equals(tensor))) {
        out.add(g);
      }
    }
    return out;
  }

  /**
   * The static shape of graph value {@code value} at batch size 1 (and sequence length 7 for any
   * other symbolic input dimension, unless that made the shapes inconsistent), if it could be
   * inferred.
   */
  public Optional<long[]> shape(String value) {
    long[] s = shapes.get(value);
    return s == null ? Optional.empty() : Optional.of(s.clone());
  }

  /** The value the analysis gave symbolic dimensions other than the batch (7), or -1 when unknown. */
  long sequence() {
    return sequence;
  }

  /** The dense shape of every float weight of the model, by name. */
  public Map<String, long[]> tensorShapes() {
    return tensorShapes;
  }

  /** Per tensor and group: role, axis, whether it can be pruned structurally and why not. */
  public StructureReport report() {
    return StructureReport.of(this);
  }

  @Override
  public String toString() {
    return "ModelStructure[" + model + ": " + groups.size() + " groups, " + prunableGroups().size()
        + " prunable]";
  }
}
