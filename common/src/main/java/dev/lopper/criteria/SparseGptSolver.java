package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import java.nio.DoubleBuffer;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The numerics of SparseGPT, a float64 port of {@code SparseGPT.fasterprune} (IST-DASLab/sparsegpt,
 * {@code sparsegpt.py}) on a weight's rows {@code [rows × cols]} and its inputs' Gram matrix
 * {@code XᵀX} ({@code cols × cols}).
 *
 * <p>{@link #prepare} does what every sparsity shares: dead inputs (a zero diagonal entry) get
 * H<sub>jj</sub> = 1 and their weight column is zeroed; {@code dampening · mean(diag H)} is added
 * to the diagonal; then H = cholesky(H), H = cholesky_inverse(H), Hinv = the upper Cholesky factor
 * of that. The Gram matrix is used raw: the reference's 2/n scale cancels in the mask scores
 * (a common factor) and in the updates (a ratio of Hinv's entries), and the dampening is relative.
 *
 * <p>{@link #prune} then walks the columns in blocks of {@code blockSize}: the unstructured mask
 * of a block is {@code W1² / diag(Hinv1)² <= sorted(...)[int(numel · sparsity)]}, which prunes at
 * least one more than {@code int(numel · sparsity)} as the reference does (and all ties at the
 * threshold); with N:M the M − N lowest of {@code W1[:, i:i+M]² / diag(Hinv1)[i:i+M]²} per row at
 * every {@code i % M == 0} (the reference's {@code prunen} is that number pruned), the lower column
 * first on ties. Each pruned weight's error {@code err = w / Hinv[i, i]} is subtracted along the row
 * of the block ({@code W1[:, i:] -= err ⊗ Hinv1[i, i:]}), and after the block from all later
 * columns at once ({@code W[:, i2:] -= Err1 · Hinv[i1:i2, i2:]}, one dgemm).
 *
 * <p>Rows are independent within a block (a row's mask and updates read only that row), so each
 * row is carried through the block's columns at once, which is the reference's arithmetic in the
 * same order per element. Cholesky, inverse and the lazy update run in OpenBLAS ({@link OpenBlas}).
 */
final class SparseGptSolver {

  private SparseGptSolver() {}

  /** What every sparsity of one tensor shares: the dead inputs and Hinv (upper, row-major). */
  record Prepared(int cols, boolean[] dead, DoubleBuffer hinv) {}

  /** A pruned weight: its rows and which (row, column) the masks chose, as {@code r·cols + c}. */
  record Result(double[] weights, BitSet pruned) {}

  /**
   * Dead inputs, dampening and the upper Cholesky factor of the inverse of the dampened Gram
   * matrix.
   *
   * @param gram XᵀX row-major, {@code cols × cols}, finite; not modified
   * @throws InvalidInputException naming {@code tensor} when the dampened matrix (or its inverse)
   *     is not numerically positive definite
   */
  static Prepared prepare(String tensor, double[] gram, int cols, double dampening) {
    boolean[] dead = new boolean[cols];
    DoubleBuffer h = OpenBlas.allocate((long) cols * cols);
    h.put(gram).clear();
    double diagonalSum = 0;
    for (int j = 0; j < cols; j++) {
      int jj = j * cols + j;
      if (h.get(jj) == 0.0) {
        dead[j] = true;
        h.put(jj, 1.0);
      }
      diagonalSum += h.get(jj);
    }
    double damp = dampening * (diagonalSum / cols);
    for (int j = 0; j < cols; j++) {
      int jj = j * cols + j;
      h.put(jj, h.get(jj) + damp);
    }
    check(tensor, OpenBlas.potrf(h, cols, false), "the dampened Gram matrix", damp);
    check(tensor, OpenBlas.potri(h, cols, false), "the dampened Gram matrix", damp);
    // potri left H⁻¹ in the lower triangle; the upper factorisation reads the upper one.
    for (int i = 0; i < cols; i++) {
      for (int j = i + 1; j < cols; j++) {
        h.put(i * cols + j, h.get(j * cols + i));
      }
    }
    check(tensor, OpenBlas.potrf(h, cols, true), "the inverse of the dampened Gram matrix", damp);
    for (int i = 1; i < cols; i++) {
      for (int j = 0; j < i; j++) {
        h.put(i * cols + j, 0.0);
      }
    }
    return new Prepared(cols, dead, h);
  }

  private static void check(String tensor, int info, String what, double damp) {
    if (info > 0) {
      throw new InvalidInputException("sparsegpt: " + what + " of tensor " + tensor + " is not positive"
          + " definite (leading minor " + info + ", dampening " + damp + " added to the diagonal);"
          + " raise the dampening (calibration.dampening) or calibrate on more samples");
    }
  }

  /**
   * Prunes {@code weights} ([rows × cols], not modified) at {@code sparsity} (in (0, 1]; 1 prunes
   * everything) or with the N:M {@code pattern}, and reconstructs the kept weights.
   *
   * @param blockSize columns per block; a multiple of M under N:M
   */
  static Result prune(double[] weights, int rows, Prepared prepared, double sparsity,
      SparsityPattern pattern, int blockSize) {
    int cols = prepared.cols();
    DoubleBuffer hinv = prepared.hinv();
    DoubleBuffer w = OpenBlas.allocate((long) rows * cols);
    w.put(weights).clear();
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        if (prepared.dead()[c]) {
          w.put(r * cols + c, 0.0);
        }
      }
    }
    BitSet pruned = new BitSet(rows * cols);
    int width = Math.min(blockSize, cols);
    double[] block = new double[rows * width];
    double[] hinv1 = new double[width * width];
    boolean[] mask = new boolean[rows * width];
    DoubleBuffer errors = OpenBlas.allocate((long) rows * width);
    double[] error = new double[width];
    int[] order = new int[Math.max(1, pattern.m())];
    double[] groupScores = new double[Math.max(1, pattern.m())];

    for (int i1 = 0; i1 < cols; i1 += blockSize) {
      int i2 = Math.min(i1 + blockSize, cols);
      int count = i2 - i1;
      for (int r = 0; r < rows; r++) {
        w.get(r * cols + i1, block, r * count, count);
      }
      for (int i = 0; i < count; i++) {
        hinv.get((i1 + i) * cols + i1, hinv1, i * count, count);
      }
      if (pattern.isNm()) {
        Arrays.fill(mask, 0, rows * count, false);
      } else {
        unstructuredMask(block, rows, count, hinv1, sparsity, mask);
      }
      for (int r = 0; r < rows; r++) {
        pruneRow(block, r * count, count, hinv1, mask, pattern, order, groupScores, error);
        errors.put(r * count, error, 0, count);
        for (int i = 0; i < count; i++) {
          if (mask[r * count + i]) {
            pruned.set(r * cols + i1 + i);
          }
        }
        w.put(r * cols + i1, block, r * count, count);
      }
      // W[:, i2:] -= Err1 · Hinv[i1:i2, i2:]
      OpenBlas.gemm(rows, cols - i2, count, -1.0, errors, 0, count, hinv, i1 * cols + i2, cols,
          1.0, w, i2, cols);
    }
    double[] out = new double[rows * cols];
    w.get(0, out);
    return new Result(out, pruned);
  }

  /**
   * The block's mask: {@code tmp = W1² / diag(Hinv1)²}, pruned where {@code tmp <=
   * sorted(tmp)[int(numel · sparsity)]}; everything when that index is past the end.
   */
  private static void unstructuredMask(double[] block, int rows, int count, double[] hinv1,
      double sparsity, boolean[] mask) {
    int numel = rows * count;
    double[] tmp = new double[numel];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < count; i++) {
        double d = hinv1[i * count + i];
        double v = block[r * count + i];
        tmp[r * count + i] = v * v / (d * d);
      }
    }
    int k = (int) ((double) numel * sparsity);
    if (k >= numel) {
      Arrays.fill(mask, 0, numel, true);
      return;
    }
    double threshold = kthSmallest(tmp.clone(), k);
    for (int j = 0; j < numel; j++) {
      mask[j] = tmp[j] <= threshold;
    }
  }

  /**
   * {@code sorted(a)[k]}, reordering {@code a}: a quickselect with median-of-three pivots and a
   * three-way partition (ties fall in the middle part). It replaced {@code Arrays.sort}, which took
   * 0.9 of the 2.3 s of an unstructured prune of a 3072 × 3072 weight.
   */
  static double kthSmallest(double[] a, int k) {
    int lo = 0;
    int hi = a.length - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      double x = a[lo];
      double y = a[mid];
      double z = a[hi];
      double pivot = x < y ? (y < z ? y : Math.max(x, z)) : (x < z ? x : Math.max(y, z));
      // a[lo..lt) < pivot, a[lt..i) == pivot, a(gt..hi] > pivot
      int lt = lo;
      int gt = hi;
      int i = lo;
      while (i <= gt) {
        double v = a[i];
        if (v < pivot) {
          a[i++] = a[lt];
          a[lt++] = v;
        } else if (v > pivot) {
          a[i] = a[gt];
          a[gt--] = v;
        } else {
          i++;
        }
      }
      if (k < lt) {
        hi = lt - 1;
      } else if (k > gt) {
        lo = gt + 1;
      } else {
        return pivot;
      }
    }
    return a[k];
  }

  /**
   * One row of a block through all its columns: at each N:M group start the group's mask, then for
   * each pruned column the error {@code w / d} subtracted from the row's later columns and the
   * weight zeroed. {@code error} receives the row's errors (0 where kept).
   */
  private static void pruneRow(double[] block, int base, int count, double[] hinv1, boolean[] mask,
      SparsityPattern pattern, int[] order, double[] groupScores, double[] error) {
    int m = pattern.m();
    int prune = m - pattern.n();
    for (int i = 0; i < count; i++) {
      if (m > 0 && i % m == 0) {
        for (int g = 0; g < m; g++) {
          double d = hinv1[(i + g) * count + i + g];
          double v = block[base + i + g];
          groupScores[g] = v * v / (d * d);
        }
        RowSelection.lowestInGroup(groupScores, 0, m, order);
        for (int g = 0; g < prune; g++) {
          mask[base + i + order[g]] = true;
        }
      }
      if (!mask[base + i]) {
        error[i] = 0.0;
        continue;
      }
      double d = hinv1[i * count + i];
      double err = block[base + i] / d;
      error[i] = err;
      int h = i * count;
      for (int j = i + 1; j < count; j++) {
        block[base + j] -= err * hinv1[h + j];
      }
      block[base + i] = 0.0;
    }
  }
}
