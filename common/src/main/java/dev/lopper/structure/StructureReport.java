package dev.lopper.structure;

import dev.lopper.io.Table;
import dev.lopper.structure.ChannelGroup.Member;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * What structured pruning can do with each weight tensor: one row per (tensor, group) with the
 * tensor's role and axis in the group and whether the group is prunable, and if not, why; after a
 * group's tensors, one row per Reshape shape entry that counts its channels (role {@code reshape}:
 * the shape input that a shrunk model rewrites, the node that reads it, and in {@code axis} the
 * entry's position, e.g. the head count of {@code [0, 0, 12, 32]}); plus a row for every Conv,
 * Gemm or MatMul weight that is in no group at all (its output channels are not followed, e.g. a
 * weight in Gemm's operand A).
 *
 * @param rows the rows, by group id and member order, then the weights in no group
 */
public record StructureReport(List<Row> rows) {

  /**
   * One row of the report.
   *
   * @param tensor the tensor's name (for a shape entry, the shape input's)
   * @param node the node that reads the tensor
   * @param group the group's id, or -1 for a weight in no group
   * @param groupName the group's name, or "" for a weight in no group
   * @param role the tensor's role in the group ({@code output}, {@code parameter}, {@code input}),
   *     {@code reshape} for a shape entry, or "" for a weight in no group
   * @param axis the tensor's axis that holds the group's channels (for a shape entry, the entry's
   *     position in the shape), or -1
   * @param channels the group's channels, or 0
   * @param prunable whether the group can be pruned structurally
   * @param reason why not, or ""
   */
  public record Row(String tensor, String node, int group, String groupName, String role, int axis, long channels,
      boolean prunable, String reason) {}

  /** The {@link Row#role()} of a Reshape shape entry. */
  public static final String RESHAPE = "reshape";

  public StructureReport {
    rows = List.copyOf(rows);
  }

  static StructureReport of(ModelStructure structure) {
    List<Row> rows = new ArrayList<>();
    Set<String> grouped = new HashSet<>();
    Map<String, Onnx.NodeProto> byName = new HashMap<>();
    structure.model().nodes().forEach(n -> byName.put(NodeAttributes.nodeName(n), n));
    for (ChannelGroup g : structure.groups()) {
      for (Member m : g.members()) {
        rows.add(new Row(m.tensor(), m.node(), g.id(), g.name(), m.role().name().toLowerCase(Locale.ROOT), m.axis(),
            g.channels(), g.prunable(), g.reason()));
        grouped.add(m.tensor());
      }
      for (ChannelGroup.ShapeEdit e : g.shapeEdits()) {
        Onnx.NodeProto node = byName.get(e.node());
        String shape = node == null || e.input() >= node.getInputCount() ? "" : node.getInput(e.input());
        rows.add(new Row(shape, e.node(), g.id(), g.name(), RESHAPE, e.position(), g.channels(), g.prunable(),
            g.reason()));
      }
    }
    Set<String> listed = new HashSet<>();
    for (Onnx.NodeProto node : structure.model().nodes()) {
      if (!Set.of("Conv", "Gemm", "MatMul").contains(node.getOpType())) {
        continue;
      }
      for (String in : node.getInputList()) {
        long[] shape = structure.tensorShapes().get(in);
        if (shape != null && shape.length >= 2 && !grouped.contains(in) && listed.add(in)) {
          rows.add(new Row(in, NodeAttributes.nodeName(node), -1, "", "", -1, 0, false, "the output channels of node "
              + NodeAttributes.describe(node) + " are not followed: only a weight in Conv's input"
              + " W, Gemm's operand B or MatMul's right operand starts a group"));
        }
      }
    }
    return new StructureReport(rows);
  }

  /** The rows of tensors that cannot be pruned structurally. */
  public List<Row> notPrunable() {
    return rows.stream().filter(r -> !r.prunable()).toList();
  }

  /** The report's rows as the structure table's rows, in order. */
  public List<StructureRow> tableRows() {
    return rows.stream().map(StructureRow::of).toList();
  }

  /**
   * The report as a table: {@code tensor} (STRING), {@code node} (STRING, the readable name of
   * anonymous tensors, only when some tensor has one; see {@link StructureRow}), {@code group}
   * (INT), {@code group_name}, {@code role} (STRING), {@code axis} (INT), {@code channels} (LONG),
   * {@code prunable} (BOOLEAN), {@code reason} (STRING).
   */
  public Table table() {
    return StructureRow.SCHEMA.table(tableRows());
  }
}
