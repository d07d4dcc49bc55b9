package dev.lopper.criteria;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import org.bytedeco.openblas.global.openblas;
import org.bytedeco.openblas.presets.openblas_nolapack;

/**
 * Float64 Cholesky factorisation, Cholesky inverse and matrix product on row-major matrices in
 * direct buffers, through the OpenBLAS that ND4J runs on ({@code org.bytedeco:openblas}, LAPACKE
 * and CBLAS called directly).
 *
 * <p>Why not ND4J's own API or plain Java: measured by {@code SparseGptBenchmark} on this machine's
 * 2-vCPU AMD EPYC (Zen 3, AVX2), one thread, in GFLOP/s counting d³/3 for a Cholesky
 * factorisation, 2d³/3 for the inverse and 2mnk for a product; "update" is SparseGPT's lazy update
 * [d × 128]·[128 × (d − 128)] (ranges over two runs):
 *
 * <pre>
 *   d      Cholesky: Java  OpenBLAS  ND4J        dpotri   update: Java  OpenBLAS  ND4J
 *   64               1.1–1.4  3.2–5.0  0.05–0.08   5–8            3.8–4.1  15–18     1.6–1.8
 *   256              2.0–3.1  9.9–10   1.3         9–10           4.1–4.3  36–39     15–29
 *   768              3.4–3.6  20–21    7.5–8.1     20–23          4.1–4.3  41–42     30–33
 *   3072             2.2      24–25    21          28             3.6–3.8  37–39     40–41
 * </pre>
 *
 * <p>OpenBLAS beats plain Java at every size, by 3–11× (Cholesky) and 4–10× (products); its dgemm
 * runs at about one Zen 3 core's float64 peak (16 flops a cycle, about 40 GFLOP/s; the float32
 * sgemm measured here is 70 GFLOP/s on one thread and 160 on both). ND4J's {@code Lapack.potrf}
 * calls the same {@code LAPACKE_dpotrf} and then clears the other triangle element by element (1.1–1.6
 * ms at d = 64 against 0.02 ms), ND4J has no {@code potri}, and its {@code Nd4j.gemm} costs about
 * 70 µs a call on small arrays. So one path for every size: OpenBLAS called directly.
 *
 * <p>OpenBLAS runs on {@value #THREADS} thread, checked before every call (the setting is
 * process-wide; Spark runs one task per core, and a fixed thread count keeps results bitwise
 * reproducible on one machine). Results may differ in the last bits between CPU types, since
 * OpenBLAS picks its kernels by CPU.
 */
final class OpenBlas {

  /** OpenBLAS's thread count for every call. */
  static final int THREADS = 1;

  private OpenBlas() {}

  /** A zeroed direct buffer of {@code n} doubles in native order. */
  static DoubleBuffer allocate(long n) {
    if (n > Integer.MAX_VALUE / Double.BYTES) {
      throw new IllegalArgumentException(n + " doubles exceed one 2 GiB buffer");
    }
    return ByteBuffer.allocateDirect((int) n * Double.BYTES).order(ByteOrder.nativeOrder()).asDoubleBuffer();
  }

  /**
   * Cholesky factorisation in place of the symmetric positive definite {@code n × n} matrix {@code
   * a} (row-major): with {@code upper}, U with A = UᵀU in the upper triangle, read from the upper
   * triangle; otherwise L with A = LLᵀ in the lower triangle, read from the lower one. The other
   * triangle is left as it was.
   *
   * @return 0, or the order k of the leading minor that is not positive definite
   */
  static int potrf(DoubleBuffer a, int n, boolean upper) {
    threads();
    int info = openblas.LAPACKE_dpotrf(openblas.LAPACK_ROW_MAJOR, (byte) (upper ? 'U' : 'L'), n, whole(a), n);
    checkArgument(info, "dpotrf");
    return info;
  }

  /**
   * The inverse of A from its Cholesky factor ({@link #potrf} with the same {@code upper}) in
   * place: the same triangle of A⁻¹ replaces the factor; the other triangle is left as it was.
   *
   * @return 0, or k when the factor's k-th diagonal element is zero (A is singular)
   */
  static int potri(DoubleBuffer a, int n, boolean upper) {
    threads();
    int info = openblas.LAPACKE_dpotri(openblas.LAPACK_ROW_MAJOR, (byte) (upper ? 'U' : 'L'), n, whole(a), n);
    checkArgument(info, "dpotri");
    return info;
  }

  /**
   * C = alpha·A·B + beta·C on row-major blocks: A is {@code m × k} at {@code aOffset} with row
   * stride {@code lda}, B {@code k × n} at {@code bOffset} with stride {@code ldb}, C {@code m × n}
   * at {@code cOffset} with stride {@code ldc}.
   */
  static void gemm(int m, int n, int k, double alpha, DoubleBuffer a, int aOffset, int lda,
      DoubleBuffer b, int bOffset, int ldb, double beta, DoubleBuffer c, int cOffset, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    threads();
    openblas.cblas_dgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, m, n, k,
        alpha, from(a, aOffset), lda, from(b, bOffset), ldb, beta, from(c, cOffset), ldc);
  }

  /**
   * Sets OpenBLAS's thread count when it differs: setting it costs 0.4–1.2 ms even when unchanged
   * (measured: a 64 × 64 dgemm took 17 µs, 360–1250 µs with the setting before each call), while
   * reading it is a plain call; another user of OpenBLAS in the JVM (ND4J's start) may change it.
   */
  private static void threads() {
    if (openblas_nolapack.blas_get_num_threads() != THREADS) {
      openblas_nolapack.blas_set_num_threads(THREADS);
    }
  }

  /** The buffer from its start; JavaCPP passes a direct buffer's address plus its position. */
  private static DoubleBuffer whole(DoubleBuffer a) {
    return a.duplicate().clear();
  }

  private static DoubleBuffer from(DoubleBuffer a, int offset) {
    return a.slice(offset, a.capacity() - offset);
  }

  private static void checkArgument(int info, String routine) {
    if (info < 0) {
      throw new IllegalStateException(routine + " refused its argument " + (-info));
    }
  }
}
