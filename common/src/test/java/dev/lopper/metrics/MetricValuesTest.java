package dev.lopper.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import java.util.List;
import org.junit.jupiter.api.Test;

class MetricValuesTest {

  @Test
  void columnsAreTheClassifierMetricsThenTheLanguageModelAndFidelityOnes() {
    assertEquals(List.of(new Column("accuracy", Type.DOUBLE), new Column("top5", Type.DOUBLE),
        new Column("loss", Type.DOUBLE), new Column("precision_macro", Type.DOUBLE),
        new Column("recall_macro", Type.DOUBLE), new Column("f1_macro", Type.DOUBLE), new Column("kl", Type.DOUBLE),
        new Column("perplexity", Type.DOUBLE), new Column("cosine", Type.DOUBLE),
        new Column("token_cosine", Type.DOUBLE), new Column("relative_error", Type.DOUBLE)),
        MetricValues.SCHEMA.columns());
  }

  @Test
  void holdsOnlyTheMetricsOfTheTallysTask() {
    Tally lm = new Tally(3, new TokenCounts(10, 4, ExactSum.of(5.0)));
    MetricValues values = MetricValues.of(lm.metrics());
    assertEquals(0.4, values.accuracy());
    assertEquals(0.5, values.loss());
    assertEquals(Math.exp(0.5), values.perplexity());
    assertNull(values.top5());
    assertNull(values.f1Macro());
    assertNull(values.cosine());
    Tally fidelity = new Tally(2, new FidelityCounts(2, ExactSum.of(1.0, 0.5), 4, ExactSum.of(3.0),
        ExactSum.of(1.0), ExactSum.of(4.0)));
    MetricValues f = MetricValues.of(fidelity.metrics());
    assertEquals(0.75, f.cosine());
    assertEquals(0.75, f.tokenCosine());
    assertEquals(0.25, f.relativeError());
    assertNull(f.accuracy());
    assertNull(f.loss());
  }

  @Test
  void readsEveryMetricByTheNameConfigurationGivesIt() {
    MetricValues m = MetricValues.of(new Metrics(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 10));
    for (String name : Task.CLASSIFICATION.metrics()) {
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
