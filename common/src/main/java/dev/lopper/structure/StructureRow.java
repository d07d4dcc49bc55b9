package dev.lopper.structure;

import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import dev.lopper.model.ReadableNames;

/**
 * One row of the structure table ({@link StructureReport#table()}): a weight tensor in a channel
 * group, or in none.
 *
 * @param tensor the tensor's name
 * @param node the readable name of an anonymous tensor (the name of the node that reads it, see
 *     {@link ReadableNames}), null for a tensor with a readable name of its own
 * @param group the group's id, or -1 for a weight in no group
 * @param groupName the group's name, or "" for a weight in no group
 * @param role the tensor's role in the group in lower case ({@code output}, {@code input}, ...), or ""
 * @param axis the tensor's axis that holds the group's channels, or -1
 * @param channels the group's channels, or 0
 * @param prunable whether the group can be pruned structurally
 * @param reason why not, or ""
 */
public record StructureRow(String tensor, @Optional String node, int group, String groupName, String role,
    int axis, long channels, boolean prunable, String reason) {

  /**
   * The columns: {@code tensor} (STRING), {@code node} (STRING, only when some tensor has one),
   * {@code group} (INT), {@code group_name}, {@code role} (STRING), {@code axis} (INT), {@code
   * channels} (LONG), {@code prunable} (BOOLEAN) and {@code reason} (STRING).
   */
  public static final RowSchema<StructureRow> SCHEMA = RowSchema.of(StructureRow.class);

  /** The table row of a report's row. */
  static StructureRow of(StructureReport.Row r) {
    return new StructureRow(r.tensor(), ReadableNames.of(r.tensor(), r.node()), r.group(), r.groupName(),
        r.role(), r.axis(), r.channels(), r.prunable(), r.reason());
  }
}
