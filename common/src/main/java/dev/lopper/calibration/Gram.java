package dev.lopper.calibration;

import java.nio.DoubleBuffer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The two ways of adding a block of samples' XᵀX to a Gram matrix: a plain-Java loop that adds
 * every entry's products in sample order, and OpenBLAS's dsyrk on ND4J's buffers. See {@link GramOptions} for
 * which is used when, and docs/benchmarks.md for the measured rates.
 */
final class Gram {
  /** Rows of G a Java tile spans: with {@link #TILE_COLUMNS} about 128 KiB of G, kept in L2. */
  private static final int TILE_ROWS = 32;
  /** Columns of G a Java tile spans. */
  private static final int TILE_COLUMNS = 512;
  /** Upper rows {@link #mirror} copies at a time. */
  private static final int MIRROR_TILE = 16;

  private Gram() {}

  /**
   * Adds XᵀX of {@code rows} samples ({@code x} row-major, {@code rows × dim}) to the upper triangle
   * (j ≥ i) of {@code g} ({@code dim × dim} row-major); the lower triangle is left alone (see
   * {@link #mirror}).
   *
   * <p>Every entry is its previous value plus x<sub>si</sub>·x<sub>sj</sub> for s = 0, 1, ... in
   * order, one addition at a time: Java's floating point is IEEE-strict, so the result is the same
   * on every JVM and CPU, whatever the tiling, and the diagonal equals Σx² summed in sample order.
   * Products of float32 values are exact in float64. Four samples are taken per pass over a tile so
   * that each entry is loaded and stored once per four additions (still in sample order).
   */
  static void accumulateJava(double[] g, double[] x, int rows, int dim) {
    for (int i0 = 0; i0 < dim; i0 += TILE_ROWS) {
      int i1 = Math.min(dim, i0 + TILE_ROWS);
      for (int j0 = i0; j0 < dim; j0 += TILE_COLUMNS) {
        int j1 = Math.min(dim, j0 + TILE_COLUMNS);
        int s = 0;
        for (; s + 4 <= rows; s += 4) {
          int r0 = s * dim;
          int r1 = r0 + dim;
          int r2 = r1 + dim;
          int r3 = r2 + dim;
          for (int i = i0; i < i1; i++) {
            double a0 = x[r0 + i];
            double a1 = x[r1 + i];
            double a2 = x[r2 + i];
            double a3 = x[r3 + i];
            int gi = i * dim;
            for (int j = Math.max(i, j0); j < j1; j++) {
              double v = g[gi + j];
              v += a0 * x[r0 + j];
              v += a1 * x[r1 + j];
              v += a2 * x[r2 + j];
              v += a3 * x[r3 + j];
              g[gi + j] = v;
            }
          }
        }
        for (; s < rows; s++) {
          int r0 = s * dim;
          for (int i = i0; i < i1; i++) {
            double a0 = x[r0 + i];
            int gi = i * dim;
            for (int j = Math.max(i, j0); j < j1; j++) {
              g[gi + j] += a0 * x[r0 + j];
            }
          }
        }
      }
    }
  }

  /**
   * Copies the upper triangle of {@code g} onto its lower triangle, {@value #MIRROR_TILE} upper
   * rows at a time: each lower row receives those rows' entries as one contiguous run, and the
   * cache lines of the upper rows it reads stay in cache from one lower row to the next. Measured at
   * d = 3072 (one chunk's MLP Gram matrix of a 768-wide decoder): 14–17 ms, against 41–44 ms for
   * a row-by-row copy, which writes down the columns.
   */
  static void mirror(double[] g, int dim) {
    for (int i0 = 0; i0 < dim; i0 += MIRROR_TILE) {
      int i1 = Math.min(dim, i0 + MIRROR_TILE);
      for (int j = i0 + 1; j < dim; j++) {
        int gj = j * dim;
        int end = Math.min(i1, j);
        for (int i = i0; i < end; i++) {
          g[gj + i] = g[i * dim + j];
        }
      }
    }
  }

  /**
   * A Gram matrix accumulated by OpenBLAS's dsyrk ({@code G ← XᵀX + G}, upper triangle) in ND4J's
   * off-heap memory, block by block; close it to free that memory. Set the thread count first
   * ({@link GramOptions#applyThreads}).
   *
   * <p>Why not ND4J's own calls: {@code Nd4j.gemm} (its Mmul op, which ends in the same OpenBLAS's
   * dgemm: measured bitwise equal) computes both triangles, twice the work; and ND4J 1.0.0-M2.1's
   * {@code Level3.syrk} passes K = 1 to dsyrk whatever the matrix (measured: XᵀX of a 3 × 2 matrix
   * came out as x₀ᵀx₀). So dsyrk is called here on ND4J's buffers, as ND4J's CpuLevel3 calls it.
   * Its upper triangle was bitwise equal to dgemm's at every size measured.
   */
  static final class Blas implements AutoCloseable {
    private static final int ROW_MAJOR = 101;
    private static final int UPPER = 121;
    private static final int TRANSPOSE = 112;

    private final int dim;
    private final int capacity;
    private final INDArray g;
    private final INDArray block;
    private final DoubleBuffer blockView;

    /** A zero Gram matrix of {@code dim} channels taking blocks of up to {@code capacity} samples. */
    Blas(int dim, int capacity) {
      this.dim = dim;
      this.capacity = capacity;
      this.g = Nd4j.zeros(DataType.DOUBLE, dim, dim);
      this.block = Nd4j.createUninitialized(DataType.DOUBLE, capacity, dim);
      this.blockView = block.data().asNioDouble();
    }

    /**
     * Adds XᵀX of the first {@code rows} samples of {@code x} (row-major, {@code rows × dim}) to
     * the upper triangle.
     */
    void accumulate(double[] x, int rows) {
      if (rows > capacity) {
        throw new IllegalArgumentException(rows + " rows in a block of " + capacity);
      }
      blockView.clear();
      blockView.put(x, 0, rows * dim);
      openblas_nolapack.cblas_dsyrk(ROW_MAJOR, UPPER, TRANSPOSE, dim, rows, 1.0,
          (DoublePointer) block.data().addressPointer(), dim, 1.0, (DoublePointer) g.data().addressPointer(), dim);
    }

    /** The upper triangle so far (the lower one zero), copied to the heap. */
    double[] upper() {
      return g.data().asDouble();
    }

    @Override
    public void close() {
      g.close();
      block.close();
    }
  }
}
