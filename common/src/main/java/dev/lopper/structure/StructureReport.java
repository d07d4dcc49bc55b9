package dev.lopper.structure;

import dev.lopper.io.Table;
import dev.lopper.structure.ChannelGroup.Member;
import dev.lopper.structure.ChannelGroup.Role;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import onnx.Onnx;

/**
 * What structured pruning can do with each weight tensor: one row per (tensor, group) with the
 * tensor's role and axis in the group and whether the group is prunable, and if not, why; plus a
 * row for every Conv, Gemm or MatMul weight that is in no group at all (its output channels are
 * not followed, e.g. a weight in Gemm's operand A).
 *
 * @param rows the rows, by group id and member order, then the weights in no group
 */
public record StructureReport(List<Row> rows) {

  /**
   * One row of the report.
   *
   * @param tensor the tensor's name
   * @param node the node that reads the tensor
   * @param group the group's id, or -1 for a weight in no group
   * @param groupName the group's name, or "" for a weight in no group
   * @param role the tensor's role in the group, or null
   * @param axis the tensor's axis that holds the group's channels, or -1
   * @param channels the group's channels, or 0
   * @param prunable whether the group can be pruned structurally
   * @param reason why not, or ""
   */
  public record Row(String tensor, String node, int group, String groupName, Role role, int axis, long channels,
      boolean prunable, String reason) {}

  public StructureReport {
    rows = List.copyOf(rows);
  }

  static StructureReport of(ModelStructure structure) {
    List<Row> rows = new ArrayList<>();
    Set<String> grouped = new HashSet<>();
    for (ChannelGroup g : structure.groups()) {
      for (Member m : g.members()) {
        rows.add(new Row(m.tensor(), m.node(), g.id(), g.name(), m.role(), m.axis(), g.channels(),
            g.prunable(), g.reason()));
        grouped.add(m.tensor());
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
          rows.add(new Row(in, NodeAttributes.nodeName(node), -1, "", null, -1, 0, false, "the output channels of node "
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
