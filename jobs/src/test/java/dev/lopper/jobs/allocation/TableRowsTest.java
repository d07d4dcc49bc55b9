package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.io.Table;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import dev.lopper.structure.CostComparisonRow;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rows of the allocation, latency and cost tables have the columns those tables are written with. */
class TableRowsTest {

  @Test
  void tensorAllocationHasTheAllocationTablesColumns() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("parameters", Type.LONG),
        new Column("sparsity", Type.DOUBLE), new Column("pruned", Type.LONG), new Column("predicted_drop", Type.DOUBLE)),
        TensorAllocation.SCHEMA.columns());
  }

  @Test
  void channelAllocationRowHasTheStructuredAllocationTablesColumns() {
    List<Column> written = List.of(new Column("tensor", Type.STRING), new Column("parameters", Type.LONG),
        new Column("sparsity", Type.DOUBLE), new Column("pruned", Type.LONG), new Column("predicted_drop", Type.DOUBLE),
        new Column("channels", Type.LONG), new Column("kept_channels", Type.LONG), new Column("cost", Type.DOUBLE));
    assertEquals(written, ChannelAllocationRow.SCHEMA.columns());
    // A group without a curve has no cost; the column stays.
    Table table = ChannelAllocationRow.SCHEMA.table(List.of(
        new ChannelAllocationRow(new TensorAllocation("conv1.weight", 72, 0.25, 18, 0.0), 8, 6, null)));
    assertEquals(written, table.columns());
    assertEquals(Arrays.asList("conv1.weight", 72L, 0.25, 18L, 0.0, 8L, 6L, null), table.rows().get(0));
    // Read back as allocation rows, as the report reads a structured run's allocation.
    assertEquals(List.of(new TensorAllocation("conv1.weight", 72, 0.25, 18, 0.0)), TensorAllocation.SCHEMA.rows(table));
  }

  @Test
  void latencyRowHasTheLatencyTablesColumns() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("sparsity", Type.DOUBLE),
        new Column("channels", Type.LONG), new Column("kept_channels", Type.LONG), new Column("batch", Type.LONG),
        new Column("dense_us", Type.DOUBLE), new Column("pruned_us", Type.DOUBLE), new Column("speedup", Type.DOUBLE),
        new Column("saving", Type.DOUBLE)), LatencyRow.SCHEMA.columns());
  }

  @Test
  void costRowHasTheCostTablesColumnsWithBytesOnTheTotalRowOnly() {
    List<Column> written = List.of(new Column("node", Type.STRING), new Column("op", Type.STRING),
        new Column("parameters_dense", Type.LONG), new Column("parameters_pruned", Type.LONG),
        new Column("macs_dense", Type.LONG), new Column("macs_pruned", Type.LONG), new Column("bytes_dense", Type.LONG),
        new Column("bytes_pruned", Type.LONG));
    assertEquals(written, CostRow.SCHEMA.columns());
    Table table = CostRow.SCHEMA.table(List.of(
        new CostRow(new CostComparisonRow("conv1", "Conv", 80, null, 1000, null), null, null),
        new CostRow(new CostComparisonRow("(total)", "", 80, 40L, 1000, 500L), 2048L, 1024L)));
    assertEquals(written, table.columns());
    assertEquals(Arrays.asList("conv1", "Conv", 80L, null, 1000L, null, null, null), table.rows().get(0));
    assertEquals(Arrays.asList("(total)", "", 80L, 40L, 1000L, 500L, 2048L, 1024L), table.rows().get(1));
  }
}
