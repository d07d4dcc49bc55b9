package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ConsumerColumns;
import java.util.Map;

/**
 * Channel scores from the calibration statistics of the group's consumers, FLAP's two metrics
 * (CASIA-IVA-Lab/FLAP, {@code lib/prune.py} {@code metrics}, {@code lib/layerwrapper.py}
 * {@code BiasGPT}) on Lopper's channel groups. For every {@link ChannelGroup.Role#INPUT} member,
 * seen as a matrix {@code W [out, columns]} ({@link ConsumerColumns}: a Conv's columns are its
 * im2col columns, input channel × kernel tap) with n samples, Σx<sub>j</sub> and
 * Σx<sub>j</sub>² per column j of its input:
 *
 * <ul>
 *   <li><b>fluctuation</b> (WIFV): var<sub>j</sub> · Σ<sub>o</sub> W<sub>oj</sub>², var<sub>j</sub>
 *       the sample variance (Σx² − (Σx)²/n) / (n − 1);
 *   <li><b>Wanda-sp</b> (WIFN): mean<sub>o</sub> |W<sub>oj</sub>| · √(Σx<sub>j</sub>²/n).
 * </ul>
 *
 * A channel's score is the sum of its columns' values (its block's positions times the taps) over
 * all INPUT members. For an attention head (a group whose channels a Reshape's shape counts, {@link
 * ChannelGroup#shapeEdits()} not empty) each column's value is squared first, as FLAP's
 * {@code prune_flap} does for o_proj ({@code metrics[...](...) ** 2}, then {@code reshape(-1,
 * 128).sum(dim=1)}, for WIFV and WIFN alike); the squares change which heads a group keeps.
 *
 * <p>Taken from FLAP: the formulas, the sample variance (n − 1), the mean over output rows in
 * WIFN and the root mean square (its {@code scaler_inp} is Σx²/n). Left out: FLAP's running update
 * of the variance drops the first calibration sample's term and aliases the old and new means (an
 * in-place {@code *=}), which the exact sums here do not reproduce; and the standardisation
 * across layers ((x − mean)/std per layer), which is affine within a layer and so changes no
 * channel's rank inside a group: it only matters for FLAP's global threshold, and Lopper's
 * allocation chooses each group's count from the measured sensitivity instead.
 */
final class ChannelActivationScores {
  static final int FLUCTUATION = -1;
  static final int WANDA_SP = -2;

  private ChannelActivationScores() {}

  static double[] scores(int kind, String criterion, ChannelGroup group, Map<String, WeightTensor> weights,
      Map<String, InputStatistics> statistics) {
    int channels = Math.toIntExact(group.channels());
    // Attention heads (channels counted in a Reshape's shape): FLAP squares o_proj's metric per
    // column before summing a head's head_dim columns (prune_flap: metrics(...) ** 2, then
    // reshape(-1, 128).sum(dim=1)); FFN neurons and other channels take it as it is.
    boolean heads = !group.shapeEdits().isEmpty();
    double[] scores = new double[channels];
    boolean any = false;
    for (ChannelGroup.Member m : group.members()) {
      if (m.role() != ChannelGroup.Role.INPUT) {
        continue;
      }
      any = true;
      WeightTensor w = weights.get(m.tensor());
      if (w == null) {
        throw new IllegalArgumentException("criterion " + criterion + ": no weight given for tensor "
            + m.tensor() + ", a consumer of group " + group.name());
      }
      InputStatistics s = statistics.get(m.tensor());
      if (s == null) {
        throw new InvalidInputException("criterion " + criterion + " needs the calibration statistics of the"
            + " input of " + m.tensor() + " (a consumer of channel group " + group.name() + "); statistics are"
            + " known for " + statistics.keySet());
      }
      ConsumerColumns columns = ConsumerColumns.of(m, w);
      columns.check(s, channels);
      double n = s.count();
      double[] sums = s.sums();
      double[] squares = s.sumSquares();
      int per = columns.channelColumns();
      for (int c = 0; c < channels; c++) {
        int first = columns.firstColumn(c);
        double score = 0;
        for (int j = first; j < first + per; j++) {
          double weight = 0;
          for (int o = 0; o < columns.outputs(); o++) {
            double v = columns.get(o, j);
            weight += kind == FLUCTUATION ? v * v : Math.abs(v);
          }
          double value = kind == FLUCTUATION
              ? Math.max(0, (squares[j] - sums[j] * sums[j] / n) / (n - 1)) * weight
              : weight / columns.outputs() * Math.sqrt(squares[j] / n);
          score += heads ? value * value : value;
        }
        scores[c] += score;
      }
    }
    if (!any) {
      throw new InvalidInputException("criterion " + criterion + " scores channels by their consumers, and"
          + " channel group " + group.name() + " has none");
    }
    return scores;
  }
}
