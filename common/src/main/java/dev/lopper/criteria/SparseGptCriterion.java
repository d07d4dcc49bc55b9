package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * SparseGPT (Frantar and Alistarh, 2023, "SparseGPT: Massive Language Models Can Be Accurately
 * Pruned in One-Shot"): prunes each tensor by the inverse Hessian of its layer-wise reconstruction
 * error and updates the weights it keeps to make up for the ones it removes. A float64 port of
 * {@code SparseGPT.fasterprune} (IST-DASLab/sparsegpt); the maths is described in {@link
 * SparseGptSolver}.
 *
 * <p><b>Context.</b> Every tensor needs its {@link CriterionContext#consumer consumer} (the rows of
 * its {@link WeightLayout} are what the reference calls rows, a Conv's filters flattened as {@code
 * W.flatten(1)}) and its {@link CriterionContext#inputStatistics input statistics} with the Gram
 * matrix XᵀX of at least one sample.
 *
 * <p><b>Sparsity.</b> Unstructured, the sparsity is the fraction pruned of each block of
 * {@link #blockSize()} columns (over all rows), plus the reference's one extra and its ties; 1
 * prunes everything. With an N:M {@link CriterionContext#pattern()}, the sparsity must be 0 or
 * (M − N)/M, and the block size a multiple of M. Sparsity 0 returns the dense weights unchanged
 * and an empty mask (the reference would still prune one weight per block, and zero dead inputs).
 *
 * <p><b>Output.</b> Per sparsity, the masks (the positions the method chose to prune; a kept weight
 * may still be 0, e.g. of a dead input) and the updated weights cast to float32 in each tensor's
 * stored layout. The factorisation is done once per tensor for the whole grid. Results are bitwise
 * reproducible on one machine (see {@link OpenBlas} for the threads).
 *
 * <pre>{@code
 * CriterionContext context = CriterionContext.builder()
 *     .optConsumer("fc1.weight", "Gemm", 1, true)
 *     .optInputStatistics("fc1.weight", statisticsWithGram)
 *     .build();
 * PrunedWeights pruned = new SparseGptCriterion().pruneGrid(List.of(fc1), new double[] {0.5}, context).get(0);
 * WeightTensor updated = pruned.weights().get("fc1.weight");
 * }</pre>
 */
public final class SparseGptCriterion implements ReconstructingCriterion {

  /** The reference's {@code percdamp}: the fraction of the mean diagonal added to the diagonal. */
  public static final double DEFAULT_DAMPENING = 0.01;
  /** The reference's {@code blocksize}: columns pruned between two lazy updates. */
  public static final int DEFAULT_BLOCK_SIZE = 128;

  private final double dampening;
  private final int blockSize;

  /** The reference's settings: dampening {@value #DEFAULT_DAMPENING}, blocks of {@value #DEFAULT_BLOCK_SIZE}. */
  public SparseGptCriterion() {
    this(DEFAULT_DAMPENING, DEFAULT_BLOCK_SIZE);
  }

  /**
   * A SparseGPT with its own dampening and block size.
   *
   * @param dampening the fraction of mean(diag H) added to H's diagonal ({@code
   *     calibration.dampening}), finite and ≥ 0
   * @param blockSize columns per block, ≥ 1
   * @throws InvalidInputException for a dampening or block size out of range
   */
  public SparseGptCriterion(double dampening, int blockSize) {
    if (!(dampening >= 0 && dampening < Double.POSITIVE_INFINITY)) {
      throw new InvalidInputException("calibration.dampening must be a finite number >= 0, got " + dampening);
    }
    if (blockSize < 1) {
      throw new InvalidInputException("the block size of criterion sparsegpt must be >= 1, got " + blockSize);
    }
    this.dampening = dampening;
    this.blockSize = blockSize;
  }

  @Override
  public String name() {
    return "sparsegpt";
  }

  /** The fraction of mean(diag H) added to H's diagonal. */
  public double dampening() {
    return dampening;
  }

  /** Columns per block. */
  public int blockSize() {
    return blockSize;
  }

  /**
   * For each of {@code sparsities}, the masks and the reconstructed weights of {@code tensors}.
   *
   * @throws IllegalArgumentException when the context lacks a tensor's consumer or statistics
   *     with a Gram matrix, the statistics do not fit the tensor, or an N:M sparsity is neither 0
   *     nor (M − N)/M
   * @throws InvalidInputException when a sparsity is outside [0, 1], a tensor holds NaN or
   *     infinity, the pattern does not fit a tensor or the block size, or a dampened Gram matrix
   *     is not positive definite
   */
  @Override
  public List<PrunedWeights> pruneGrid(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    Objects.requireNonNull(context, "context");
    CriterionArguments.checkSparsities(sparsities, name());
    CriterionArguments.checkDistinct(tensors, name());
    SparsityPattern pattern = context.pattern();
    boolean[] prunes = new boolean[sparsities.length];
    for (int j = 0; j < sparsities.length; j++) {
      prunes[j] = pattern.isNm() ? RowSelection.nmPrunes(pattern, sparsities[j], name()) : sparsities[j] > 0;
    }
    if (pattern.isNm() && blockSize % pattern.m() != 0) {
      throw new InvalidInputException("criterion sparsegpt: block size " + blockSize
          + " is not a multiple of M in pattern " + pattern + ", so N:M groups would straddle blocks");
    }
    List<List<Mask>> masks = new ArrayList<>();
    List<Map<String, WeightTensor>> weights = new ArrayList<>();
    for (int j = 0; j < sparsities.length; j++) {
      masks.add(new ArrayList<>());
      weights.add(new LinkedHashMap<>());
    }
    for (WeightTensor tensor : tensors) {
      WeightLayout layout = CriterionArguments.layout(tensor, context, name());
      pattern.checkFits(tensor.name(), layout.cols());
      double[] gram = gram(tensor, layout, context);
      double[] rows = layout.toRows(tensor);
      checkFinite(tensor, layout, rows);
      SparseGptSolver.Prepared prepared = null;
      for (int j = 0; j < sparsities.length; j++) {
        if (!prunes[j]) {
          masks.get(j).add(Mask.none(tensor.name(), tensor.shape()));
          weights.get(j).put(tensor.name(), tensor);
          continue;
        }
        if (prepared == null) {
          prepared = SparseGptSolver.prepare(tensor.name(), gram, layout.cols(), dampening);
        }
        SparseGptSolver.Result result =
            SparseGptSolver.prune(rows, layout.rows(), prepared, sparsities[j], pattern, blockSize);
        masks.get(j).add(new Mask(tensor.name(), tensor.shape(), stored(result.pruned(), layout)));
        weights.get(j).put(tensor.name(), layout.fromRows(result.weights()));
      }
    }
    List<PrunedWeights> out = new ArrayList<>(sparsities.length);
    for (int j = 0; j < sparsities.length; j++) {
      out.add(new PrunedWeights(MaskSet.of(masks.get(j)), weights.get(j)));
    }
    return out;
  }

  /** The tensor's Gram matrix, checked against its layout. */
  private static double[] gram(WeightTensor tensor, WeightLayout layout, CriterionContext context) {
    InputStatistics stats = context.inputStatistics(tensor.name()).orElseThrow(() ->
        new IllegalArgumentException("criterion sparsegpt: tensor " + tensor.name()
            + " has no calibration statistics in the context"));
    if (!stats.hasGram()) {
      throw new IllegalArgumentException("criterion sparsegpt: the calibration statistics of tensor "
          + tensor.name() + " have no Gram matrix");
    }
    if (stats.dim() != layout.cols()) {
      throw new IllegalArgumentException("criterion sparsegpt: tensor " + tensor.name() + " has "
          + layout.cols() + " inputs per output row but calibration statistics of " + stats.dim() + " channels");
    }
    if (stats.count() == 0) {
      throw new IllegalArgumentException("criterion sparsegpt: the calibration statistics of tensor "
          + tensor.name() + " hold no samples");
    }
    double[] gram = stats.gram();
    for (int i = 0; i < gram.length; i++) {
      if (!Double.isFinite(gram[i])) {
        throw new IllegalArgumentException("criterion sparsegpt: the Gram matrix of tensor " + tensor.name()
            + " holds " + gram[i] + " at (" + i / stats.dim() + ", " + i % stats.dim() + ")");
      }
    }
    return gram;
  }

  private static void checkFinite(WeightTensor tensor, WeightLayout layout, double[] rows) {
    for (int i = 0; i < rows.length; i++) {
      if (!Double.isFinite(rows[i])) {
        throw new InvalidInputException("tensor " + tensor.name() + " holds " + rows[i] + " at flat index "
            + layout.index(i / layout.cols(), i % layout.cols()) + "; criterion sparsegpt needs finite weights");
      }
    }
  }

  /** Row-view positions {@code r·cols + c} as flat indices of the stored tensor. */
  private static BitSet stored(BitSet rowView, WeightLayout layout) {
    if (!layout.rowsOnLastAxis()) {
      return rowView;
    }
    BitSet out = new BitSet(layout.rows() * layout.cols());
    int cols = layout.cols();
    for (int i = rowView.nextSetBit(0); i >= 0; i = rowView.nextSetBit(i + 1)) {
      out.set(layout.index(i / cols, i % cols));
    }
    return out;
  }

  @Override
  public String toString() {
    return "SparseGptCriterion[sparsegpt, dampening " + dampening + ", block size " + blockSize + "]";
  }
}
