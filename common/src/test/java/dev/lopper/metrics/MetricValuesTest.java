package dev.lopper.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import java.util.List;
import org.junit.jupiter.api.Test;

class MetricValuesTest {

  @Test
  void columnsAreTheSevenMetricsInTableOrder() {
    assertEquals(List.of(new Column("accuracy", Type.DOUBLE), new Column("top5", Type.DOUBLE),
        new Column("loss", Type.DOUBLE), new Column("precision_macro", Type.DOUBLE),
        new Column("recall_macro", Type.DOUBLE), new Column("f1_macro", Type.DOUBLE), new Column("kl", Type.DOUBLE)),
        MetricValues.SCHEMA.columns());
  }

  @Test
  void readsEveryMetricByTheNameConfigurationGivesIt() {
    MetricValues m = MetricValues.of(new Metrics(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 10));
    for (String name : Metrics.NAMES) {
      assertEquals(new Metrics(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 10).get(name), m.get(name), name);
    }
    assertEquals("f1_macro", MetricValues.column("f1"));
    assertEquals("kl", MetricValues.column("kl"));
    assertNull(m.get("perplexity"), "a metric the block does not hold");
  }

  @Test
  void changesKeepNotMeasuredAsNullAndNanAsValue() {
    MetricValues value = new MetricValues(0.5, null, Double.NaN, null, null, 0.25, 1.0);
    MetricValues base = new MetricValues(0.75, 0.5, 0.5, null, null, null, 0.5);
    assertEquals(new MetricValues(-0.25, null, Double.NaN, null, null, null, 0.5), value.minus(base));
  }
}
