package dev.lopper.criteria;

import dev.lopper.metrics.ExactSum;
import java.util.Arrays;

/**
 * OWL's layer-wise sparsities (Yin et al., 2024, "Outlier Weighed Layerwise Sparsity"), a port of
 * {@code prune_wanda_outlier} in luuyin/OWL's {@code lib/prune_all.py}: groups (decoder blocks) with
 * more outlier Wanda scores are pruned less, and the groups' mean sparsity stays the target.
 *
 * <ol>
 *   <li>Per group, the outlier ratio ({@code check_outlier_mean}): the share, in percent, of the
 *       group's Wanda scores (all its tensors' together) above {@code m} times their mean.
 *   <li>Across groups, with r the ratios: {@code (r − min r) · (1 / (max r − min r) · λ · 2)}, minus
 *       its mean, plus {@code 1 − target} is each group's density; its sparsity is 1 minus that,
 *       and a sparsity ≤ 0 becomes 0.01 as the reference prunes.
 * </ol>
 *
 * <p>The reference takes the means with {@code torch.mean} and {@code np.mean}; here they are the
 * correctly rounded exact sums ({@link ExactSum}) divided by the count, so that they do not depend
 * on the order of the values (they can differ from the reference's in the last bit). When all
 * ratios are equal the reference divides by zero; here every group then gets the target. A
 * sparsity above 1 (possible for targets above about 1 − 2λ) is capped at 1: the reference's
 * {@code int(cols · s)} slice then prunes every weight too.
 *
 * <pre>{@code
 * double[] ratios = new double[blocks];
 * for (int b = 0; b < blocks; b++) {
 *   ratios[b] = OwlRatios.outlierRatio(scoresOfBlock(b), OwlRatios.DEFAULT_THRESHOLD);
 * }
 * double[] sparsities = OwlRatios.sparsities(ratios, 0.7, OwlRatios.DEFAULT_LAMBDA);
 * }</pre>
 *
 * <p>Scores spread over partitions: accumulate an {@link ExactSum} and a count per group, take
 * {@link #threshold}, count the scores above it, and call {@link #outlierRatio(long, long)}.
 */
public final class OwlRatios {

  /** The reference's {@code Hyper_m}: a score is an outlier above this many times the mean. */
  public static final double DEFAULT_THRESHOLD = 5.0;
  /** The reference's {@code Lamda}: densities spread over [−λ, λ] around the target's. */
  public static final double DEFAULT_LAMBDA = 0.08;

  private OwlRatios() {}

  /**
   * The outlier ratio of one group's scores, in percent: how many exceed {@code m} × their mean.
   *
   * @param scores the group's Wanda scores, finite and non-empty
   */
  public static double outlierRatio(double[] scores, double m) {
    if (scores.length == 0) {
      throw new IllegalArgumentException("OWL: a group without scores has no outlier ratio");
    }
    double threshold = threshold(ExactSum.of(scores), scores.length, m);
    long outliers = 0;
    for (double s : scores) {
      if (s > threshold) {
        outliers++;
      }
    }
    return outlierRatio(outliers, scores.length);
  }

  /** The outlier threshold of a group: {@code m} × (the sum's value / count). */
  public static double threshold(ExactSum sum, long count, double m) {
    if (count <= 0) {
      throw new IllegalArgumentException("OWL: a group of " + count + " scores has no mean");
    }
    return sum.value() / count * m;
  }

  /** {@code check_outlier_mean}'s percentage: {@code outliers / size · 100}. */
  public static double outlierRatio(long outliers, long size) {
    if (size <= 0 || outliers < 0 || outliers > size) {
      throw new IllegalArgumentException("OWL: " + outliers + " outliers among " + size + " scores");
    }
    return (double) outliers / size * 100;
  }

  /**
   * Each group's sparsity from the groups' outlier ratios.
   *
   * @param ratios the groups' outlier ratios (percent), at least one
   * @param target the mean sparsity wanted, in [0, 1]
   * @param lambda half the spread of the densities, ≥ 0
   */
  public static double[] sparsities(double[] ratios, double target, double lambda) {
    if (ratios.length == 0) {
      throw new IllegalArgumentException("OWL: no groups");
    }
    if (!(target >= 0 && target <= 1) || !(lambda >= 0 && lambda < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException("OWL: target sparsity " + target + " must be in [0, 1] and lambda "
          + lambda + " finite and >= 0");
    }
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (double r : ratios) {
      if (!Double.isFinite(r)) {
        throw new IllegalArgumentException("OWL: outlier ratio " + r);
      }
      min = Math.min(min, r);
      max = Math.max(max, r);
    }
    double[] out = new double[ratios.length];
    if (max == min) {
      Arrays.fill(out, target);
      return out;
    }
    double scale = 1 / (max - min) * lambda * 2;
    double[] spread = new double[ratios.length];
    for (int i = 0; i < ratios.length; i++) {
      spread[i] = (ratios[i] - min) * scale;
    }
    double mean = ExactSum.of(spread).value() / spread.length;
    for (int i = 0; i < ratios.length; i++) {
      double density = spread[i] - mean + (1 - target);
      double sparsity = 1 - density;
      out[i] = sparsity <= 0 ? 0.01 : Math.min(1.0, sparsity);
    }
    return out;
  }
}
