package dev.lopper.criteria;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lopper.metrics.ExactSum;
import java.util.List;
import org.junit.jupiter.api.Test;

class OwlRatiosTest {

  @Test
  void ratiosAndSparsitiesEqualThePythonPort() {
    PruningReference ref = PruningReference.load();
    int sets = 0;
    for (String ratiosName : ref.names("owl\\.[^.]+\\.ratios")) {
      String set = ratiosName.substring(0, ratiosName.length() - ".ratios".length());
      List<String> groups = ref.names(java.util.regex.Pattern.quote(set) + "\\.scores\\.\\d+");
      double[] ratios = new double[groups.size()];
      for (int g = 0; g < ratios.length; g++) {
        float[] scores = ref.f32(set + ".scores." + g);
        double[] wide = new double[scores.length];
        for (int i = 0; i < wide.length; i++) {
          wide[i] = scores[i];
        }
        ratios[g] = OwlRatios.outlierRatio(wide, OwlRatios.DEFAULT_THRESHOLD);
      }
      assertArrayEquals(ref.f64(ratiosName), ratios, 0.0, set);
      for (String targetName : ref.names(java.util.regex.Pattern.quote(set) + "\\.target.*")) {
        double target = Double.parseDouble(targetName.substring(targetName.indexOf(".target") + 7));
        assertArrayEquals(ref.f64(targetName), OwlRatios.sparsities(ratios, target, OwlRatios.DEFAULT_LAMBDA),
            0.0, targetName);
      }
      sets++;
    }
    assertEquals(2, sets);
  }

  @Test
  void countsScoresAboveMTimesTheMeanInPercent() {
    // Mean 13, threshold 65 at M = 5: only 100 is above.
    assertEquals(100.0 / 8, OwlRatios.outlierRatio(new double[] {1, 1, 1, 1, 100, 0, 0, 0}, 5), 0.0);
    // A score equal to the threshold is not an outlier: mean 2, M = 1.5, threshold 3.
    assertEquals(0.0, OwlRatios.outlierRatio(new double[] {3, 1, 2}, 1.5), 0.0);
    assertEquals(25.0, OwlRatios.outlierRatio(1, 4), 0.0);
    assertEquals(20.0, OwlRatios.threshold(ExactSum.of(1, 3), 2, 10), 0.0);
  }

  @Test
  void spreadsDensitiesOverTwoLambdaAroundTheTarget() {
    double[] s = OwlRatios.sparsities(new double[] {0, 1, 2}, 0.5, 0.1);
    // Spread 0, 0.1, 0.2; mean 0.1; densities 0.4, 0.5, 0.6: more outliers, less pruning.
    assertArrayEquals(new double[] {0.6, 0.5, 0.4}, s, 1e-15);
    assertEquals(0.5, (s[0] + s[1] + s[2]) / 3, 1e-15);
  }

  @Test
  void equalRatiosGiveTheTargetAndSparsitiesStayInRange() {
    assertArrayEquals(new double[] {0.7, 0.7}, OwlRatios.sparsities(new double[] {3, 3}, 0.7, 0.08), 0.0);
    // Target 0.05, lambda 0.08: the densest group would be at -0.03, and gets 0.01 as the reference prunes.
    double[] low = OwlRatios.sparsities(new double[] {0, 10}, 0.05, 0.08);
    assertArrayEquals(new double[] {0.13, 0.01}, low, 1e-15);
    double[] high = OwlRatios.sparsities(new double[] {0, 10}, 0.95, 0.08);
    assertArrayEquals(new double[] {1.0, 0.87}, high, 1e-15);
    assertThrows(IllegalArgumentException.class, () -> OwlRatios.sparsities(new double[0], 0.5, 0.08));
    assertThrows(IllegalArgumentException.class, () -> OwlRatios.outlierRatio(new double[0], 5));
  }
}
