package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;

/**
 * Unstructured magnitude pruning: prune the weights of smallest absolute value, with PyTorch's
 * semantics.
 *
 * <ul>
 *   <li>{@link #local()} ({@code magnitude}) prunes each tensor on its own, as {@code
 *       torch.nn.utils.prune.l1_unstructured(module, name, amount=sparsity)}.
 *   <li>{@link #global()} ({@code global-magnitude}) prunes the given tensors jointly, as {@code
 *       torch.nn.utils.prune.global_unstructured(params, pruning_method=L1Unstructured,
 *       amount=sparsity)} with the tensors in the given order.
 * </ul>
 *
 * <p>The number pruned is Python's {@code round(sparsity * n)}: the float64 product rounded half
 * to even (n = 5 at 0.5 prunes 2, n = 7 at 0.5 prunes 4, n = 25 at 0.1 prunes 2 because 0.1 × 25
 * is exactly 2.5 in float64). The k smallest |w| are pruned; among equal magnitudes (zeros, say)
 * the lower flat index, for the global criterion the lower index in the concatenation, is pruned
 * first. PyTorch's {@code topk} leaves that order unspecified; here it is fixed so that masks are
 * reproducible. As in PyTorch, a sparsity is a fraction: 1.0 prunes everything.
 *
 * <p>The selection is O(n) per tensor and never copies a tensor (see {@link MagnitudeSelection}).
 *
 * <p><b>N:M.</b> With an N:M {@link CriterionContext#pattern()}, {@code magnitude} prunes the M − N
 * smallest |w| of every M consecutive inputs of every output row of the tensor's {@link
 * WeightLayout} (its consumer must be in the context), the lower input first among equal
 * magnitudes: {@code prune_magnitude} of locuslab/wanda with a stable order. The sparsity must then
 * be 0 (nothing pruned) or (M − N)/M. {@code global-magnitude} refuses N:M patterns.
 */
public final class MagnitudeCriterion implements PruningCriterion {

  private static final MagnitudeCriterion LOCAL = new MagnitudeCriterion("magnitude", false);
  private static final MagnitudeCriterion GLOBAL = new MagnitudeCriterion("global-magnitude", true);

  private final String name;
  private final boolean global;

  private MagnitudeCriterion(String name, boolean global) {
    this.name = name;
    this.global = global;
  }

  /** Per-tensor magnitude pruning, named {@code magnitude}. */
  public static MagnitudeCriterion local() {
    return LOCAL;
  }

  /** Joint magnitude pruning over all given tensors, named {@code global-magnitude}. */
  public static MagnitudeCriterion global() {
    return GLOBAL;
  }

  @Override
  public String name() {
    return name;
  }

  /** True for the joint criterion, false for the per-tensor one. */
  public boolean isGlobal() {
    return global;
  }

  @Override
  public MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
    return selectGrid(tensors, new double[] {sparsity}, context).get(0);
  }

  /**
   * Masks for every sparsity of a grid, identical to {@link #select} for each, sharing the
   * selection's histogram passes between the sparsities.
   */
  @Override
  public List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    Objects.requireNonNull(context, "context");
    CriterionArguments.checkSparsities(sparsities, name);
    CriterionArguments.checkDistinct(tensors, name);

    if (context.pattern().isNm()) {
      return selectNm(tensors, sparsities, context);
    }
    Mask[][] masks = new Mask[sparsities.length][tensors.size()];
    if (global) {
      masks = MagnitudeSelection.selectJointly(tensors, sparsities, name);
    } else {
      for (int t = 0; t < tensors.size(); t++) {
        Mask[][] one = MagnitudeSelection.selectJointly(List.of(tensors.get(t)), sparsities, name);
        for (int j = 0; j < sparsities.length; j++) {
          masks[j][t] = one[j][0];
        }
      }
    }
    List<MaskSet> out = new ArrayList<>(sparsities.length);
    for (Mask[] perTensor : masks) {
      out.add(MaskSet.of(Arrays.asList(perTensor)));
    }
    return out;
  }

  /** The N:M masks: per row of each tensor's {@link WeightLayout}, the M − N smallest |w| of every M. */
  private List<MaskSet> selectNm(List<WeightTensor> tensors, double[] sparsities, CriterionContext context) {
    SparsityPattern pattern = context.pattern();
    if (global) {
      throw new InvalidInputException("criterion " + name + " prunes all tensors jointly and cannot hold"
          + " the N:M pattern " + pattern + ", which fixes the sparsity of every row; use criterion magnitude");
    }
    List<List<Mask>> masks = new ArrayList<>();
    for (int j = 0; j < sparsities.length; j++) {
      masks.add(new ArrayList<>());
    }
    for (WeightTensor tensor : tensors) {
      WeightLayout layout = CriterionArguments.layout(tensor, context, name);
      pattern.checkFits(tensor.name(), layout.cols());
      BitSet nm = null;
      for (int j = 0; j < sparsities.length; j++) {
        BitSet pruned = new BitSet();
        if (RowSelection.nmPrunes(pattern, sparsities[j], name)) {
          nm = nm != null ? nm : RowSelection.nm(magnitudes(tensor, layout), layout, pattern);
          pruned = nm;
        }
        masks.get(j).add(new Mask(tensor.name(), tensor.shape(), pruned));
      }
    }
    return masks.stream().map(MaskSet::of).toList();
  }

  /** |w| as float64 rows of the layout; NaN and infinity are bad input. */
  private double[] magnitudes(WeightTensor tensor, WeightLayout layout) {
    double[] rows = layout.toRows(tensor);
    for (int i = 0; i < rows.length; i++) {
      if (!Double.isFinite(rows[i])) {
        throw new InvalidInputException("tensor " + tensor.name() + " holds " + rows[i] + " at flat index "
            + layout.index(i / layout.cols(), i % layout.cols()) + "; criterion " + name + " needs finite weights");
      }
      rows[i] = Math.abs(rows[i]);
    }
    return rows;
  }

  @Override
  public String toString() {
    return "MagnitudeCriterion[" + name + "]";
  }
}
