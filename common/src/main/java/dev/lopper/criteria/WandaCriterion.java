package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;

/**
 * Wanda (Sun et al., 2023, "A Simple and Effective Pruning Approach for Large Language Models"):
 * prune the weights of smallest |W<sub>rc</sub>| · ‖X<sub>c</sub>‖ within each output row, a port
 * of {@code prune_wanda} in locuslab/wanda's {@code lib/prune.py}.
 *
 * <p><b>Score.</b> S<sub>rc</sub> = |W<sub>rc</sub>| · sqrt(Σx<sub>c</sub>² / n), in float64 ({@code
 * (double) |w|} times {@code Math.sqrt} of the quotient), with row r an output neuron or filter and
 * column c an input of the {@link WeightLayout} and channel c of the tensor's {@link
 * InputStatistics} (the reference's {@code scaler_row} is the same mean square, accumulated in
 * float32 with a running rescale; the 1/n does not change a row's order).
 *
 * <p><b>Selection.</b> Unstructured: in every row, the {@code int(cols × sparsity)} lowest scores
 * (the float64 product truncated, as the reference's {@code int(W.shape[1]*sparsity_ratio)}, so
 * 0.7 × 10 prunes 7 but 0.57 × 100, 56.99999999999999 in float64, prunes 56), the lower column
 * first among equal scores ({@code torch.sort(stable=True)}). With an N:M {@link CriterionContext#pattern()}: the M − N lowest of
 * every M consecutive columns of every row; the sparsity must then be 0 (nothing pruned) or (M −
 * N)/M. The reference casts scores to float32 before its N:M {@code topk}; here they stay float64.
 *
 * <p><b>Context.</b> Every tensor needs its {@link CriterionContext#consumer consumer} (for the
 * layout) and its {@link CriterionContext#inputStatistics input statistics} with at least one
 * sample; the Gram matrix is not used.
 *
 * <pre>{@code
 * CriterionContext context = CriterionContext.builder()
 *     .optConsumer("fc1.weight", "Gemm", 1, true)
 *     .optInputStatistics("fc1.weight", statistics)
 *     .build();
 * MaskSet masks = Criteria.byName("wanda").select(List.of(fc1), 0.5, context);
 * }</pre>
 */
public final class WandaCriterion implements PruningCriterion {

  private static final WandaCriterion INSTANCE = new WandaCriterion();

  private WandaCriterion() {}

  /** The criterion, named {@code wanda}. */
  public static WandaCriterion instance() {
    return INSTANCE;
  }

  @Override
  public String name() {
    return "wanda";
  }

  /**
   * The scores of {@code tensor} as rows: element {@code r·cols + c} is S<sub>rc</sub> of its
   * {@link WeightLayout} (what OWL's outlier ratios are computed from).
   *
   * @throws IllegalArgumentException when the context lacks the tensor's consumer or statistics,
   *     or the statistics do not fit it
   * @throws InvalidInputException when the tensor's layout is unknown or it holds NaN or infinity
   */
  public double[] scores(WeightTensor tensor, CriterionContext context) {
    WeightLayout layout = CriterionArguments.layout(tensor, context, name());
    return scores(tensor, layout, statistics(tensor, layout, context));
  }

  @Override
  public MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
    return selectGrid(tensors, new double[] {sparsity}, context).get(0);
  }

  /** {@link #select} for every sparsity of a grid, scoring and sorting each row once. */
  @Override
  public List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    Objects.requireNonNull(context, "context");
    CriterionArguments.checkSparsities(sparsities, name());
    CriterionArguments.checkDistinct(tensors, name());
    SparsityPattern pattern = context.pattern();
    List<List<Mask>> masks = new ArrayList<>();
    for (int j = 0; j < sparsities.length; j++) {
      masks.add(new ArrayList<>());
    }
    for (WeightTensor tensor : tensors) {
      WeightLayout layout = CriterionArguments.layout(tensor, context, name());
      pattern.checkFits(tensor.name(), layout.cols());
      double[] scores = scores(tensor, layout, statistics(tensor, layout, context));
      BitSet[] pruned;
      if (pattern.isNm()) {
        pruned = new BitSet[sparsities.length];
        BitSet nm = null;
        for (int j = 0; j < sparsities.length; j++) {
          if (RowSelection.nmPrunes(pattern, sparsities[j], name())) {
            nm = nm != null ? nm : RowSelection.nm(scores, layout, pattern);
            pruned[j] = nm;
          } else {
            pruned[j] = new BitSet();
          }
        }
      } else {
        pruned = RowSelection.perRow(scores, layout, sparsities);
      }
      for (int j = 0; j < sparsities.length; j++) {
        masks.get(j).add(new Mask(tensor.name(), tensor.shape(), pruned[j]));
      }
    }
    return masks.stream().map(MaskSet::of).toList();
  }

  /** S = |w| · sqrt(Σx² / n) for every (row, column) of the layout. */
  static double[] scores(WeightTensor tensor, WeightLayout layout, InputStatistics stats) {
    int rows = layout.rows();
    int cols = layout.cols();
    double[] norms = new double[cols];
    double n = stats.count();
    double[] sumSquares = stats.sumSquares();
    for (int c = 0; c < cols; c++) {
      norms[c] = Math.sqrt(sumSquares[c] / n);
    }
    FloatBuffer data = tensor.data();
    double[] out = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int flat = layout.index(r, c);
        float w = data.get(flat);
        if (!Float.isFinite(w)) {
          throw new InvalidInputException("tensor " + tensor.name() + " holds " + w + " at flat index "
              + flat + "; criterion wanda needs finite weights");
        }
        out[r * cols + c] = (double) Math.abs(w) * norms[c];
      }
    }
    return out;
  }

  /** The tensor's statistics, checked against its layout. */
  private InputStatistics statistics(WeightTensor tensor, WeightLayout layout, CriterionContext context) {
    InputStatistics stats = context.inputStatistics(tensor.name()).orElseThrow(() ->
        new IllegalArgumentException("criterion wanda: tensor " + tensor.name()
            + " has no calibration statistics in the context"));
    if (stats.dim() != layout.cols()) {
      throw new IllegalArgumentException("criterion wanda: tensor " + tensor.name() + " has "
          + layout.cols() + " inputs per output row but calibration statistics of " + stats.dim() + " channels");
    }
    if (stats.count() == 0) {
      throw new IllegalArgumentException("criterion wanda: the calibration statistics of tensor "
          + tensor.name() + " hold no samples");
    }
    double[] sumSquares = stats.sumSquares();
    for (int c = 0; c < sumSquares.length; c++) {
      if (!(sumSquares[c] >= 0 && sumSquares[c] < Double.POSITIVE_INFINITY)) {
        throw new IllegalArgumentException("criterion wanda: the calibration statistics of tensor "
            + tensor.name() + " have sum of squares " + sumSquares[c] + " for channel " + c);
      }
    }
    return stats;
  }

  @Override
  public String toString() {
    return "WandaCriterion[wanda]";
  }
}
