package dev.lopper.jobs.allocation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.io.Table;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import dev.lopper.structure.CostComparisonRow;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rows of the allocation, latency and cost tables have the columns those tables are written with. */
class TableRowsTest {

  /** The allocation table's columns; {@code node} only when some tensor has a readable name beside its own. */
  private static List<Column> allocationColumns(boolean node) {
    List<Column> columns = new ArrayList<>(List.of(new Column("tensor", Type.STRING),
        new Column("parameters", Type.LONG), new Column("sparsity", Type.DOUBLE), new Column("pruned", Type.LONG),
        new Column("predicted_drop", Type.DOUBLE)));
    if (node) {
      columns.add(1, new Column("node", Type.STRING));
    }
    return columns;
  }

  @Test
  void tensorAllocationHasTheAllocationTablesColumns() {
    assertEquals(allocationColumns(true), TensorAllocation.SCHEMA.columns());
  }

  @Test
  void allocationTableHasANodeColumnOnlyForAnonymousTensors() {
    TensorAllocation named = new TensorAllocation("fc1.weight", null, 72, 0.25, 18, 0.0);
    Table plain = TensorAllocation.SCHEMA.table(List.of(named));
    assertEquals(allocationColumns(false), plain.columns(), "the samples' tables, as they were");
    TensorAllocation anonymous = new TensorAllocation("onnx::MatMul_787",
        "/encoder/layer.0/attention/self/query/MatMul", 147456, 0.5, 73728, 0.01);
    Table table = TensorAllocation.SCHEMA.table(List.of(named, anonymous));
    assertEquals(allocationColumns(true), table.columns());
    assertEquals(Arrays.asList("fc1.weight", null), table.rows().get(0).subList(0, 2));
    assertEquals(List.of("onnx::MatMul_787", "/encoder/layer.0/attention/self/query/MatMul"),
        table.rows().get(1).subList(0, 2));
    assertEquals(List.of(named, anonymous), TensorAllocation.SCHEMA.rows(table));
    assertEquals(List.of(named), TensorAllocation.SCHEMA.rows(plain));
  }

  @Test
  void tensorAllocationTakesTheReadableNameOfItsCurve() {
    double[] grid = {0.5};
    SensitivityCurve anonymous = new SensitivityCurve("onnx::MatMul_1", "/fc/MatMul", 10, grid, new double[] {0.1});
    assertEquals("/fc/MatMul", new UniformAllocation().allocate(List.of(anonymous),
        new AllocationSettings(0.5, 0.01, 0.9)).tensors().get(0).node());
  }

  @Test
  void channelAllocationRowHasTheStructuredAllocationTablesColumns() {
    List<Column> written = new ArrayList<>(allocationColumns(false));
    written.addAll(List.of(new Column("channels", Type.LONG), new Column("kept_channels", Type.LONG),
        new Column("cost", Type.DOUBLE)));
    List<Column> declared = new ArrayList<>(written);
    declared.add(1, new Column("node", Type.STRING));
    assertEquals(declared, ChannelAllocationRow.SCHEMA.columns());
    // A group without a curve has no cost; the column stays. A group has no readable name: no node column.
    Table table = ChannelAllocationRow.SCHEMA.table(List.of(
        new ChannelAllocationRow(new TensorAllocation("conv1.weight", null, 72, 0.25, 18, 0.0), 8, 6, null)));
    assertEquals(written, table.columns());
    assertEquals(Arrays.asList("conv1.weight", 72L, 0.25, 18L, 0.0, 8L, 6L, null), table.rows().get(0));
    // Read back as allocation rows, as the report reads a structured run's allocation.
    assertEquals(List.of(new TensorAllocation("conv1.weight", null, 72, 0.25, 18, 0.0)),
        TensorAllocation.SCHEMA.rows(table));
  }

  @Test
  void latencyRowHasTheLatencyTablesColumns() {
    assertEquals(List.of(new Column("tensor", Type.STRING), new Column("sparsity", Type.DOUBLE),
        new Column("channels", Type.LONG), new Column("kept_channels", Type.LONG), new Column("batch", Type.LONG),
        new Column("dense_us", Type.DOUBLE), new Column("pruned_us", Type.DOUBLE), new Column("speedup", Type.DOUBLE),
        new Column("saving", Type.DOUBLE), new Column("timed_with", Type.LONG),
        new Column("saving_error", Type.DOUBLE), new Column("pairs", Type.LONG)), LatencyRow.SCHEMA.columns());
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
