package dev.lopper.jobs.calibration;

import dev.lopper.InvalidInputException;
import dev.lopper.eval.GraphSegments;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The groups sequential calibration proceeds in, in graph order: by default the decoder blocks, as
 * the reference implementations (one Wanda or SparseGPT step per transformer layer). A tensor's
 * block is the first segment of its consumer's node path that ends in a number ({@code
 * /blocks.0/attn/q_proj/MatMul} is in {@code /blocks.0}, {@code /model/layers.3/mlp/down_proj/MatMul}
 * in {@code /model/layers.3}, {@code /encoder/layer.11/…} in {@code /encoder/layer.11}), or else of
 * its own name ({@code blocks.0.attn.q_proj.weight}); a tensor outside any block (a classifier head,
 * {@code lm_head}) is a group of its own. Configured globs ({@code calibration.groups}) replace the
 * blocks: a tensor joins the first glob it matches. Groups are ordered by their first consumer's
 * position in the graph, tensors within a group by theirs.
 *
 * @param name the group's name: the block's path, the glob, or the tensor's name
 * @param tensors its tensors' names, in graph order
 */
public record CalibrationGroups(List<Group> groups) {

  /** One group of tensors calibrated together. */
  public record Group(String name, List<String> tensors) {
    public Group {
      tensors = List.copyOf(tensors);
    }
  }

  private static final Pattern NUMBERED = Pattern.compile(".*\\.\\d+");

  public CalibrationGroups {
    groups = List.copyOf(groups);
  }

  /**
   * The groups of {@code tensors} in {@code model}.
   *
   * @param globs configured groups, or empty for the decoder blocks
   * @throws InvalidInputException when a glob matches no tensor
   */
  public static CalibrationGroups of(OnnxModel model, List<PrunableTensor> tensors, List<String> globs) {
    List<PrunableTensor> ordered = inGraphOrder(model, tensors);
    Map<String, List<String>> byName = new LinkedHashMap<>();
    Map<String, Boolean> globUsed = new LinkedHashMap<>();
    globs.forEach(g -> globUsed.put(g, false));
    for (PrunableTensor t : ordered) {
      String group = null;
      for (String glob : globs) {
        if (PrunableTensors.matches(glob, t.name())) {
          group = glob;
          globUsed.put(glob, true);
          break;
        }
      }
      if (group == null && globs.isEmpty()) {
        group = block(t);
      }
      byName.computeIfAbsent(group != null ? group : t.name(), k -> new ArrayList<>()).add(t.name());
    }
    globUsed.forEach((glob, used) -> {
      if (!used) {
        throw new InvalidInputException("calibration.groups: glob '" + glob + "' matches no prunable tensor");
      }
    });
    List<Group> out = new ArrayList<>();
    byName.forEach((name, members) -> out.add(new Group(name, members)));
    return new CalibrationGroups(out);
  }

  /**
   * The groups of {@code calibration.sequential=cut}: a group of the tensors between every two
   * consecutive single-value cuts ({@link GraphSegments#singleValueCuts}), finer than blocks (a
   * decoder block's attention and its MLP are groups of their own). A group is named after the value
   * it starts from ({@code after /blocks.0/Add_output_0}); the first is {@code start}.
   */
  public static CalibrationGroups cuts(OnnxModel model, List<PrunableTensor> tensors) {
    List<PrunableTensor> ordered = inGraphOrder(model, tensors);
    List<String> cuts = GraphSegments.singleValueCuts(model, ordered.stream().map(PrunableTensor::name).toList());
    List<Group> out = new ArrayList<>();
    String name = "start";
    List<String> members = new ArrayList<>();
    for (int i = 0; i < ordered.size(); i++) {
      if (cuts.get(i) != null) {
        out.add(new Group(name, members));
        name = "after " + cuts.get(i);
        members = new ArrayList<>();
      }
      members.add(ordered.get(i).name());
    }
    out.add(new Group(name, members));
    return new CalibrationGroups(out);
  }

  /** The tensors ordered by their consumer's position in the graph. */
  private static List<PrunableTensor> inGraphOrder(OnnxModel model, List<PrunableTensor> tensors) {
    Map<String, Integer> position = new HashMap<>();
    for (int i = 0; i < model.nodes().size(); i++) {
      position.putIfAbsent(model.nodes().get(i).getName(), i);
    }
    List<PrunableTensor> ordered = new ArrayList<>(tensors);
    ordered.sort(Comparator.comparingInt(t -> position.getOrDefault(t.nodeName(), Integer.MAX_VALUE)));
    return ordered;
  }

  /** The tensor's decoder block, or null. */
  static String block(PrunableTensor t) {
    String node = t.nodeName();
    if (node != null) {
      String[] parts = node.split("/", -1);
      StringBuilder path = new StringBuilder();
      for (int i = 0; i < parts.length - 1; i++) {
        path.append(i == 0 ? "" : "/").append(parts[i]);
        if (NUMBERED.matcher(parts[i]).matches()) {
          return path.toString();
        }
      }
    }
    String[] parts = t.name().split("\\.", -1);
    for (int i = 1; i < parts.length - 1; i++) {
      if (parts[i].chars().allMatch(Character::isDigit) && !parts[i].isEmpty()) {
        return String.join(".", java.util.Arrays.copyOfRange(parts, 0, i + 1));
      }
    }
    return null;
  }

  /** The group holding {@code tensor}. */
  public Group groupOf(String tensor) {
    return groups.stream().filter(g -> g.tensors().contains(tensor)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("tensor " + tensor + " is in no calibration group"));
  }

  /** Every tensor, group by group. */
  public List<String> tensors() {
    return groups.stream().flatMap(g -> g.tensors().stream()).toList();
  }
}
