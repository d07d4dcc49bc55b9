package dev.lopper.criteria;

import java.nio.DoubleBuffer;
import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Times SparseGPT's float64 kernels three ways (plain Java, ND4J's API, the OpenBLAS under ND4J
 * called directly through {@link OpenBlas}) and the whole solver, for square weights of d inputs;
 * not a test (run by hand, one thread):
 * {@code OMP_NUM_THREADS=1 java -cp <test classpath> dev.lopper.criteria.SparseGptBenchmark 64 256 768 3072}.
 * The figures in {@link OpenBlas}'s javadoc come from it.
 */
public final class SparseGptBenchmark {

  private SparseGptBenchmark() {}

  public static void main(String[] args) {
    int[] sizes = args.length == 0 ? new int[] {64, 256, 768, 3072} : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    Nd4j.getEnvironment().setMaxMasterThreads(1);
    Nd4j.getEnvironment().setMaxThreads(1);
    Nd4j.factory().blas().setMaxThreads(OpenBlas.THREADS);
    for (int d : sizes) {
      Random random = new Random(d);
      double[] h = gram(random, d, 2 * d);
      int reps = d <= 64 ? 500 : d <= 256 ? 50 : d <= 768 ? 5 : 1;
      double flopsChol = (double) d * d * d / 3;

      double javaChol = time(reps, () -> choleskyUpper(h.clone(), d));
      DoubleBuffer buffer = OpenBlas.allocate((long) d * d);
      double blasChol = time(reps, () -> {
        buffer.clear().put(h).clear();
        OpenBlas.potrf(buffer, d, true);
      });
      double blasInverse = time(reps, () -> {
        buffer.clear().put(h).clear();
        OpenBlas.potrf(buffer, d, false);
        OpenBlas.potri(buffer, d, false);
      }) - blasChol;
      INDArray hn = Nd4j.create(h, new long[] {d, d}, 'c');
      double nd4jChol = time(reps, () -> Nd4j.getBlasWrapper().lapack().potrf(hn.dup('f'), true));

      int k = Math.min(128, d / 2);
      int n = d - k;
      double[] a = randoms(random, d * k);
      double[] b = randoms(random, k * d);
      double[] c = new double[d * d];
      double flopsGemm = 2.0 * d * n * k;
      double javaGemm = time(3 * reps, () -> gemmSubtract(d, n, k, a, k, b, k, d, c, k, d));
      DoubleBuffer ab = OpenBlas.allocate(a.length).put(a);
      DoubleBuffer bb = OpenBlas.allocate(b.length).put(b);
      DoubleBuffer cb = OpenBlas.allocate(c.length);
      double blasGemm = time(3 * reps, () -> OpenBlas.gemm(d, n, k, -1.0, ab, 0, k, bb, k, d, 1.0, cb, k, d));
      INDArray an = Nd4j.create(a, new long[] {d, k}, 'c');
      INDArray bn = Nd4j.create(b, new long[] {k, d}, 'c').get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
          org.nd4j.linalg.indexing.NDArrayIndex.interval(k, d)).dup('c');
      INDArray cn = Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.DOUBLE, d, n);
      double nd4jGemm = time(3 * reps, () -> Nd4j.gemm(an, bn, cn, false, false, -1.0, 1.0));

      double[] w = randoms(random, d * d);
      double prepare = time(Math.max(1, reps / 2), () -> SparseGptSolver.prepare("w", h, d, 0.01));
      SparseGptSolver.Prepared p = SparseGptSolver.prepare("w", h, d, 0.01);
      double half = time(Math.max(1, reps / 2),
          () -> SparseGptSolver.prune(w, d, p, 0.5, SparsityPattern.UNSTRUCTURED, 128));
      double twoFour = time(Math.max(1, reps / 2),
          () -> SparseGptSolver.prune(w, d, p, 0.5, new SparsityPattern(2, 4), 128));
      System.out.printf("d = %d (rows = %d):%n"
              + "  Cholesky    Java %.3f ms %.2f GFLOP/s | OpenBLAS dpotrf %.3f ms %.2f | ND4J potrf %.3f ms %.2f;"
              + " OpenBLAS dpotri %.3f ms %.2f%n"
              + "  update [%d x %d]·[%d x %d]  Java %.3f ms %.2f GFLOP/s | OpenBLAS dgemm %.3f ms %.2f | ND4J gemm %.3f ms %.2f%n"
              + "  solver: prepare (dpotrf, dpotri, dpotrf) %.1f ms, prune 0.5 %.1f ms, prune 2:4 %.1f ms%n",
          d, d, javaChol * 1e3, flopsChol / javaChol / 1e9, blasChol * 1e3, flopsChol / blasChol / 1e9,
          nd4jChol * 1e3, flopsChol / nd4jChol / 1e9, blasInverse * 1e3, 2 * flopsChol / blasInverse / 1e9,
          d, k, k, n, javaGemm * 1e3, flopsGemm / javaGemm / 1e9, blasGemm * 1e3, flopsGemm / blasGemm / 1e9,
          nd4jGemm * 1e3, flopsGemm / nd4jGemm / 1e9, prepare * 1e3, half * 1e3, twoFour * 1e3);
    }
  }

  /** Seconds per call, after as many warm-up calls. */
  private static double time(int reps, Runnable task) {
    for (int i = 0; i < Math.max(2, reps); i++) {
      task.run();
    }
    long start = System.nanoTime();
    for (int i = 0; i < reps; i++) {
      task.run();
    }
    return (System.nanoTime() - start) / 1e9 / reps;
  }

  private static double[] randoms(Random random, int n) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = random.nextGaussian();
    }
    return out;
  }

  /** XᵀX of {@code samples} Gaussian rows of d, via OpenBLAS. */
  private static double[] gram(Random random, int d, int samples) {
    double[] x = randoms(random, samples * d);
    double[] xt = new double[x.length];
    for (int s = 0; s < samples; s++) {
      for (int i = 0; i < d; i++) {
        xt[i * samples + s] = x[s * d + i];
      }
    }
    DoubleBuffer h = OpenBlas.allocate((long) d * d);
    OpenBlas.gemm(d, d, samples, 1.0, OpenBlas.allocate(xt.length).put(xt), 0, samples,
        OpenBlas.allocate(x.length).put(x), 0, d, 0.0, h, 0, d);
    double[] out = new double[d * d];
    h.get(0, out);
    return out;
  }

  /** Plain Java: the upper Cholesky factor in place, right-looking, row-major (axpy inner loops). */
  static boolean choleskyUpper(double[] a, int n) {
    for (int k = 0; k < n; k++) {
      int kk = k * n;
      double pivot = a[kk + k];
      if (!(pivot > 0)) {
        return false;
      }
      double u = Math.sqrt(pivot);
      a[kk + k] = u;
      for (int j = k + 1; j < n; j++) {
        a[kk + j] /= u;
      }
      for (int i = k + 1; i < n; i++) {
        double f = a[kk + i];
        int ii = i * n;
        for (int j = i; j < n; j++) {
          a[ii + j] -= f * a[kk + j];
        }
      }
    }
    return true;
  }

  /** Plain Java: C[m × n] −= A[m × k]·B[k × n], row-major, four rows at a time over column tiles. */
  static void gemmSubtract(int m, int n, int k, double[] a, int lda, double[] b, int bo, int ldb, double[] c,
      int co, int ldc) {
    final int tile = 512;
    for (int j0 = 0; j0 < n; j0 += tile) {
      int j1 = Math.min(n, j0 + tile);
      int r = 0;
      for (; r + 4 <= m; r += 4) {
        int c0 = co + r * ldc;
        int c1 = c0 + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        for (int p = 0; p < k; p++) {
          double x0 = a[r * lda + p];
          double x1 = a[(r + 1) * lda + p];
          double x2 = a[(r + 2) * lda + p];
          double x3 = a[(r + 3) * lda + p];
          int row = bo + p * ldb;
          for (int j = j0; j < j1; j++) {
            double v = b[row + j];
            c[c0 + j] -= x0 * v;
            c[c1 + j] -= x1 * v;
            c[c2 + j] -= x2 * v;
            c[c3 + j] -= x3 * v;
          }
        }
      }
      for (; r < m; r++) {
        for (int p = 0; p < k; p++) {
          double x0 = a[r * lda + p];
          int row = bo + p * ldb;
          for (int j = j0; j < j1; j++) {
            c[co + r * ldc + j] -= x0 * b[row + j];
          }
        }
      }
    }
  }
}
