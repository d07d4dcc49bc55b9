package dev.lopper;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import dev.lopper.mask.MaskSummaryRow;
import dev.lopper.model.PrunableTensorRow;
import dev.lopper.structure.CostComparisonRow;
import dev.lopper.structure.StructureRow;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The row records of common's tables have the columns (names, types, order) those tables are written with. */
class TableRowsTest {

  /** Declared columns; {@code node} is written only when some tensor has a readable name beside its own. */
  @Test
  void maskSummaryRow() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("node", Type.STRING),
        new Column("shape", Type.LONG_LIST),
        new Column("parameters", Type.LONG), new Column("kept", Type.LONG), new Column("pruned", Type.LONG),
        new Column("density", Type.DOUBLE)), MaskSummaryRow.SCHEMA.columns());
  }

  /** Declared columns; {@code node} as for {@link #maskSummaryRow()}. */
  @Test
  void structureRow() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("node", Type.STRING),
        new Column("group", Type.INT),
        new Column("group_name", Type.STRING), new Column("role", Type.STRING), new Column("axis", Type.INT),
        new Column("channels", Type.LONG), new Column("prunable", Type.BOOLEAN), new Column("reason", Type.STRING)),
        StructureRow.SCHEMA.columns());
  }

  @Test
  void costComparisonRow() {
    assertEquals(List.of(new Column("node", Type.STRING), new Column("op", Type.STRING),
        new Column("parameters_dense", Type.LONG), new Column("parameters_pruned", Type.LONG),
        new Column("macs_dense", Type.LONG), new Column("macs_pruned", Type.LONG)), CostComparisonRow.SCHEMA.columns());
  }

  @Test
  void prunableTensorRow() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("op", Type.STRING),
        new Column("node", Type.STRING), new Column("shape", Type.LONG_LIST), new Column("parameters", Type.LONG)),
        PrunableTensorRow.SCHEMA.columns());
  }
}
