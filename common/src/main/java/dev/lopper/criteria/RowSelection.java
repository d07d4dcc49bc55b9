package dev.lopper.criteria;

import java.util.BitSet;

/**
 * Chooses the lowest scores within each row of a {@link WeightLayout}'s view, as the reference
 * implementations of Wanda and SparseGPT do: a fraction of every row ({@code prune_wanda}'s
 * unstructured branch) or the M − N lowest of every M consecutive columns (their N:M branches).
 *
 * <p>Scores are float64, row-major {@code [rows × cols]}, finite. Among equal scores the lower
 * column is pruned first: {@code torch.sort(..., stable=True)} in {@code prune_wanda}; the
 * references' {@code torch.topk} leaves that order open, so it is fixed here (and in {@code
 * data/pruning_reference.py}). Pruned positions come back as flat indices of the stored tensor.
 */
final class RowSelection {

  /** How far an N:M sparsity may be from (M − N)/M, for sparsities written in decimal. */
  static final double NM_TOLERANCE = 1e-12;

  private RowSelection() {}

  /**
   * Whether an N:M criterion prunes at {@code sparsity}: false for 0 (nothing pruned), true for
   * (M − N)/M.
   *
   * @throws IllegalArgumentException for any other sparsity
   */
  static boolean nmPrunes(SparsityPattern pattern, double sparsity, String criterion) {
    if (sparsity == 0.0) {
      return false;
    }
    if (Math.abs(sparsity - pattern.sparsity()) <= NM_TOLERANCE) {
      return true;
    }
    throw new IllegalArgumentException("criterion " + criterion + " with pattern " + pattern
        + " prunes (M - N)/M = " + pattern.sparsity() + " of every row; sparsity " + sparsity
        + " was asked (only 0, for none, or " + pattern.sparsity() + ")");
  }

  /**
   * In every group of M consecutive columns of every row, the M − N lowest scores.
   *
   * @param pattern an N:M pattern whose M divides the layout's columns (checked by the caller)
   */
  static BitSet nm(double[] scores, WeightLayout layout, SparsityPattern pattern) {
    int rows = layout.rows();
    int cols = layout.cols();
    int m = pattern.m();
    int prune = m - pattern.n();
    BitSet pruned = new BitSet(rows * cols);
    int[] order = new int[m];
    for (int r = 0; r < rows; r++) {
      int base = r * cols;
      for (int g = 0; g < cols; g += m) {
        lowestInGroup(scores, base + g, m, order);
        for (int i = 0; i < prune; i++) {
          pruned.set(layout.index(r, g + order[i]));
        }
      }
    }
    return pruned;
  }

  /**
   * Offsets 0..m-1 of {@code scores[from..from+m)} ordered by (score, offset): an insertion sort,
   * stable, so equal scores keep the lower offset first.
   */
  static void lowestInGroup(double[] scores, int from, int m, int[] order) {
    for (int i = 0; i < m; i++) {
      int j = i;
      double s = scores[from + i];
      while (j > 0 && scores[from + order[j - 1]] > s) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
    }
  }

  /**
   * For each of {@code sparsities}, per row the {@code (int) (cols × sparsity)} lowest scores
   * (Python's {@code int(W.shape[1] * sparsity_ratio)}: the float64 product truncated), sorting
   * every row once for the whole grid.
   */
  static BitSet[] perRow(double[] scores, WeightLayout layout, double[] sparsities) {
    int rows = layout.rows();
    int cols = layout.cols();
    int[] counts = new int[sparsities.length];
    int most = 0;
    for (int j = 0; j < sparsities.length; j++) {
      counts[j] = Math.min(cols, (int) (cols * sparsities[j]));
      most = Math.max(most, counts[j]);
    }
    BitSet[] pruned = new BitSet[sparsities.length];
    for (int j = 0; j < pruned.length; j++) {
      pruned[j] = new BitSet(rows * cols);
    }
    int[] order = new int[cols];
    int[] buffer = new int[cols];
    for (int r = 0; r < rows && most > 0; r++) {
      stableOrder(scores, r * cols, cols, order, buffer);
      for (int j = 0; j < counts.length; j++) {
        for (int i = 0; i < counts[j]; i++) {
          pruned[j].set(layout.index(r, order[i]));
        }
      }
    }
    return pruned;
  }

  /**
   * Offsets 0..n-1 of {@code scores[from..from+n)} in ascending score order, equal scores in
   * ascending offset (a bottom-up merge sort, stable; {@code buffer} is scratch space of n).
   */
  static void stableOrder(double[] scores, int from, int n, int[] order, int[] buffer) {
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    int[] src = order;
    int[] dst = buffer;
    for (int width = 1; width < n; width <<= 1) {
      for (int lo = 0; lo < n; lo += width << 1) {
        int mid = Math.min(lo + width, n);
        int hi = Math.min(lo + (width << 1), n);
        int a = lo;
        int b = mid;
        int k = lo;
        while (a < mid && b < hi) {
          // Take from the right run only when strictly smaller: that keeps equal scores in order.
          dst[k++] = scores[from + src[b]] < scores[from + src[a]] ? src[b++] : src[a++];
        }
        while (a < mid) {
          dst[k++] = src[a++];
        }
        while (b < hi) {
          dst[k++] = src[b++];
        }
      }
      int[] t = src;
      src = dst;
      dst = t;
    }
    if (src != order) {
      System.arraycopy(src, 0, order, 0, n);
    }
  }
}
