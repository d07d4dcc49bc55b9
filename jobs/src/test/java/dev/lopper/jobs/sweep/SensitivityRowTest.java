package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.lopper.io.Table;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import dev.lopper.metrics.MetricValues;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SensitivityRowTest {

  private static final List<String> METRICS =
      List.of("accuracy", "top5", "loss", "precision_macro", "recall_macro", "f1_macro", "kl");
  private static final List<String> ALL_METRICS = List.of("accuracy", "top5", "loss", "precision_macro",
      "recall_macro", "f1_macro", "kl", "perplexity", "cosine", "token_cosine", "relative_error");

  /** The columns of {@code sensitivity.*} before the rows moved to records; channels only for channel groups. */
  private static List<Column> written(boolean groups) {
    return written(groups, METRICS);
  }

  /** The columns with {@code metrics}: a classifier's, or every metric any model measures. */
  private static List<Column> written(boolean groups, List<String> metrics) {
    List<Column> columns = new ArrayList<>(List.of(new Column("tensor", Type.STRING), new Column("op", Type.STRING),
        new Column("parameters", Type.LONG), new Column("criterion", Type.STRING), new Column("sparsity", Type.DOUBLE),
        new Column("pruned", Type.LONG)));
    if (groups) {
      columns.add(new Column("channels", Type.LONG));
      columns.add(new Column("pruned_channels", Type.LONG));
    }
    metrics.forEach(m -> columns.add(new Column(m, Type.DOUBLE)));
    metrics.forEach(m -> columns.add(new Column("delta_" + m, Type.DOUBLE)));
    columns.add(new Column("samples", Type.LONG));
    return columns;
  }

  private static SensitivityRow row(String tensor, Long channels, Long prunedChannels) {
    MetricValues values = new MetricValues(0.9, 1.0, 0.3, 0.8, 0.7, 0.75, Double.NaN);
    return new SensitivityRow(tensor, null, "Conv", 72, "magnitude", 0.5, 36, channels, prunedChannels, values,
        values.minus(values), 100);
  }

  /** {@code columns} with {@code node} after {@code tensor}, as tables of anonymous tensors have it. */
  private static List<Column> withNode(List<Column> columns) {
    List<Column> out = new ArrayList<>(columns);
    out.add(1, new Column("node", Type.STRING));
    return out;
  }

  @Test
  void columnsAreThoseOfTheSensitivityTable() {
    assertEquals(withNode(written(true, ALL_METRICS)), SensitivityRow.SCHEMA.columns());
    assertEquals(ALL_METRICS, MetricValues.SCHEMA.columnNames());
  }

  @Test
  void channelColumnsOnlyInSweepsOfChannelGroups() {
    Table tensors = SensitivityRow.SCHEMA.table(List.of(row("conv1.weight", null, null)));
    assertEquals(written(false), tensors.columns());
    Table groups = SensitivityRow.SCHEMA.table(List.of(row("conv1.weight", 0L, 0L), row("g", 8L, 4L)));
    assertEquals(written(true), groups.columns());
    SensitivityRow back = SensitivityRow.SCHEMA.rows(tensors).get(0);
    assertNull(back.channels());
    assertEquals(0.9, back.metrics().accuracy());
    assertEquals(0.0, back.delta().accuracy());
    assertEquals(Double.NaN, back.delta().kl(), "NaN - NaN stays a value");
  }

  @Test
  void nodeColumnOnlyWhenATensorHasAReadableName() {
    MetricValues values = new MetricValues(0.9, 1.0, 0.3, 0.8, 0.7, 0.75, Double.NaN);
    SensitivityRow anonymous = new SensitivityRow("onnx::MatMul_787", "/encoder/layer.0/attention/self/query/MatMul",
        "MatMul", 147456, "magnitude", 0.5, 73728, null, null, values, values.minus(values), 100);
    Table named = SensitivityRow.SCHEMA.table(List.of(row("conv1.weight", null, null)));
    assertEquals(written(false), named.columns(), "the samples' tables, as they were");
    Table table = SensitivityRow.SCHEMA.table(List.of(row("conv1.weight", null, null), anonymous));
    assertEquals(withNode(written(false)), table.columns());
    assertNull(table.rows().get(0).get(1));
    assertEquals(List.of("onnx::MatMul_787", "/encoder/layer.0/attention/self/query/MatMul", "MatMul"),
        table.rows().get(1).subList(0, 3));
    assertEquals(anonymous.node(), SensitivityRow.SCHEMA.rows(table).get(1).node());
    assertNull(SensitivityRow.SCHEMA.rows(named).get(0).node());
  }
}
