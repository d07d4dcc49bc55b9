package dev.lopper.jobs.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.io.Table;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import dev.lopper.metrics.MetricValues;
import java.util.List;
import org.junit.jupiter.api.Test;

class VerificationRowTest {

  /** The columns of {@code verification.*} as the verification wrote them before its rows became records. */
  static final List<Column> WRITTEN = List.of(new Column("model", Type.STRING), new Column("accuracy", Type.DOUBLE),
      new Column("top5", Type.DOUBLE), new Column("loss", Type.DOUBLE), new Column("precision_macro", Type.DOUBLE),
      new Column("recall_macro", Type.DOUBLE), new Column("f1_macro", Type.DOUBLE), new Column("kl", Type.DOUBLE),
      new Column("samples", Type.LONG), new Column("predicted_drop", Type.DOUBLE),
      new Column("measured_drop", Type.DOUBLE));

  @Test
  void columnsAreThoseOfTheVerificationTable() {
    List<Column> all = new java.util.ArrayList<>(WRITTEN);
    all.addAll(8, List.of(new Column("perplexity", Type.DOUBLE), new Column("cosine", Type.DOUBLE),
        new Column("token_cosine", Type.DOUBLE), new Column("relative_error", Type.DOUBLE)));
    assertEquals(all, VerificationRow.SCHEMA.columns());
    MetricValues measured = new MetricValues(0.9, 1.0, 0.3, 0.8, 0.7, Double.NaN, 0.0);
    Table table = VerificationRow.SCHEMA.table(List.of(new VerificationRow("dense", measured, 100, 0.0, 0.0),
        new VerificationRow("pruned", measured, 100, 0.01, 0.02)));
    assertEquals(WRITTEN, table.columns(), "every metric measured: every column written");
    assertEquals(List.of("pruned", 0.9, 1.0, 0.3, 0.8, 0.7, Double.NaN, 0.0, 100L, 0.01, 0.02), table.rows().get(1));
  }
}
