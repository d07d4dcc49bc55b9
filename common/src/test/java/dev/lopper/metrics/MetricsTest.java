package dev.lopper.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import org.junit.jupiter.api.Test;

/** Metric formulas against hand-computed cases and scikit-learn 1.2's numbers. */
class MetricsTest {

  private static Tally fromConfusion(int classes, long... cells) {
    long total = 0;
    long trace = 0;
    for (long c : cells) {
      total += c;
    }
    for (int c = 0; c < classes; c++) {
      trace += cells[c * classes + c];
    }
    return new Tally(classes, total, total, trace, trace, cells, new ExactSum(), 0, new ExactSum());
  }

  @Test
  void macroAveragesCountAbsentClassesAsZeroLikeSklearn() {
    // y_true [0,0,0,1,1], y_pred [0,0,1,1,2], labels=range(4), zero_division=0:
    // sklearn precision_recall_fscore_support(average='macro') = (0.375, 0.29166666666666663, 0.325)
    Tally t = fromConfusion(4,
        2, 1, 0, 0,
        0, 1, 1, 0,
        0, 0, 0, 0,
        0, 0, 0, 0);
    Metrics m = t.metrics();
    assertEquals(0.375, m.precisionMacro(), 1e-15);
    assertEquals(0.29166666666666663, m.recallMacro(), 1e-15);
    assertEquals(0.325, m.f1Macro(), 1e-15);
    assertEquals(3.0 / 5, m.accuracy());
    assertEquals(5, m.samples());
    assertTrue(Double.isNaN(m.kl()));
  }

  @Test
  void macroAveragesMatchSklearnWhenEveryClassIsPresent() {
    // y_true [0,1,2,2,1,0,2], y_pred [0,2,2,1,1,0,2]: sklearn gives 0.7222222222222222 for all three
    Tally t = fromConfusion(3,
        2, 0, 0,
        0, 1, 1,
        0, 1, 2);
    Metrics m = t.metrics();
    assertEquals(0.7222222222222222, m.precisionMacro(), 1e-15);
    assertEquals(0.7222222222222222, m.recallMacro(), 1e-15);
    assertEquals(0.7222222222222222, m.f1Macro(), 1e-15);
    assertEquals(5.0 / 7, m.accuracy());
  }

  @Test
  void perClassF1IsTwoTpOverTwoTpPlusFpPlusFn() {
    // class 0: tp 3, fp 1, fn 2 -> 6/9; class 1: tp 4, fp 2, fn 1 -> 8/11
    Tally t = fromConfusion(2,
        3, 2,
        1, 4);
    assertEquals((6.0 / 9 + 8.0 / 11) / 2, t.metrics().f1Macro(), 1e-15);
    assertEquals((3.0 / 4 + 4.0 / 6) / 2, t.metrics().precisionMacro(), 1e-15);
    assertEquals((3.0 / 5 + 4.0 / 5) / 2, t.metrics().recallMacro(), 1e-15);
  }

  @Test
  void metricsOfNoLabelledRowsAreNaN() {
    Metrics m = Tally.empty(3).metrics();
    assertTrue(Double.isNaN(m.accuracy()));
    assertTrue(Double.isNaN(m.loss()));
    assertTrue(Double.isNaN(m.f1Macro()));
    assertEquals(0, m.samples());
  }

  @Test
  void namesDirectionsAndDrops() {
    Metrics m = new Metrics(0.9, 0.99, 0.3, 0.8, 0.7, 0.75, 0.01, 100);
    assertEquals(0.9, m.get("accuracy"));
    assertEquals(0.99, m.get("top5"));
    assertEquals(0.3, m.get("loss"));
    assertEquals(0.75, m.get("f1"));
    assertEquals(0.8, m.get("precision"));
    assertEquals(0.7, m.get("recall"));
    assertEquals(0.01, m.get("kl"));
    for (String higher : new String[] {"accuracy", "top5", "f1", "precision", "recall"}) {
      assertTrue(Metrics.higherIsBetter(higher));
    }
    assertFalse(Metrics.higherIsBetter("loss"));
    assertFalse(Metrics.higherIsBetter("kl"));
    assertEquals(0.25, Metrics.drop("accuracy", 0.9, 0.65), 1e-15);
    assertEquals(0.5, Metrics.drop("loss", 0.25, 0.75), 1e-15);
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> m.get("auc"));
    assertTrue(e.getMessage().contains("'auc'"), e.getMessage());
    assertThrows(InvalidInputException.class, () -> Metrics.higherIsBetter("f2"));
  }
}
