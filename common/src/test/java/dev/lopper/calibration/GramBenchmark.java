package dev.lopper.calibration;

import java.util.Arrays;
import java.util.Random;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Times the Gram matrix XᵀX of N float32 samples of d channels in float64, plain Java ({@link
 * Gram#accumulateJava}) against OpenBLAS's dsyrk on ND4J's buffers ({@link Gram.Blas}), both
 * including the mirroring of the upper triangle and, for dsyrk, the copy of each block of 1024 samples
 * off the heap; not a test (run by hand, see
 * docs/benchmarks.md, "Calibration statistics: the Gram matrix"):
 *
 * <pre>
 *   java -cp &lt;test classpath&gt; dev.lopper.calibration.GramBenchmark [threads] [d,d,...] [N,N,...]
 * </pre>
 *
 * <p>Rates are GFLOP/s counted as 2·N·d² (the full product, as a dgemm computes it; both compute only
 * the upper triangle, half of that). It also says whether the dsyrk result is
 * bitwise the same at 1 and 2 OpenBLAS threads, and how far it is from the Java sum.
 */
public final class GramBenchmark {
  private GramBenchmark() {}

  public static void main(String[] args) {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
    int[] dims = args.length > 1 ? parse(args[1]) : new int[] {64, 256, 768, 3072};
    int[] counts = args.length > 2 ? parse(args[2]) : new int[] {512, 2048, 8192};
    new GramOptions(GramOptions.Engine.BLAS, threads).applyThreads();
    System.out.printf("threads %d, OMP_NUM_THREADS=%s, OPENBLAS_CORETYPE=%s, blas threads %d%n", threads,
        System.getenv("OMP_NUM_THREADS"), System.getenv("OPENBLAS_CORETYPE"), Nd4j.factory().blas().getMaxThreads());
    System.out.println("d      N      java ms  java GF/s  blas ms  blas GF/s  speedup  1v2 threads  max rel diff java/blas");
    for (int d : dims) {
      for (int n : counts) {
        run(d, n, threads);
      }
    }
  }

  private static void run(int d, int n, int threads) {
    Random random = new Random(d * 31L + n);
    double[] x = new double[n * d];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) random.nextGaussian();
    }
    double flops = 2.0 * n * d * (double) d;
    int repeats = (int) Math.max(2, Math.min(20, 2e10 / flops));
    boolean java = flops <= 2e11;
    double[] gJava = null;
    double bestJava = Double.MAX_VALUE;
    for (int r = 0; java && r <= repeats; r++) {
      double[] g = new double[d * d];
      long t0 = System.nanoTime();
      Gram.accumulateJava(g, x, n, d);
      Gram.mirror(g, d);
      long t1 = System.nanoTime();
      if (r > 0) {
        bestJava = Math.min(bestJava, (t1 - t0) / 1e6);
      }
      gJava = g;
    }
    double[] gBlas = null;
    double bestBlas = Double.MAX_VALUE;
    for (int r = 0; r <= repeats; r++) {
      long t0 = System.nanoTime();
      gBlas = blas(x, n, d);
      long t1 = System.nanoTime();
      if (r > 0) {
        bestBlas = Math.min(bestBlas, (t1 - t0) / 1e6);
      }
    }
    // The same product at the other thread count.
    new GramOptions(GramOptions.Engine.BLAS, threads == 1 ? 2 : 1).applyThreads();
    double[] gOther = blas(x, n, d);
    new GramOptions(GramOptions.Engine.BLAS, threads).applyThreads();
    double maxRel = 0;
    if (gJava != null) {
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          double scale = Math.sqrt(gJava[i * d + i] * gJava[j * d + j]);
          maxRel = Math.max(maxRel, Math.abs(gJava[i * d + j] - gBlas[i * d + j]) / scale);
        }
      }
    }
    System.out.printf("%-6d %-6d %8s %9s %8.2f %9.1f %8s  %-12s %s%n", d, n,
        java ? String.format("%.2f", bestJava) : "-", java ? String.format("%.1f", flops / bestJava / 1e6) : "-",
        bestBlas, flops / bestBlas / 1e6, java ? String.format("%.1fx", bestJava / bestBlas) : "-",
        Arrays.equals(gBlas, gOther) ? "identical" : "DIFFER", java ? String.format("%.1e", maxRel) : "-");
  }

  /** As {@link ChunkStatistics} computes it: blocks of {@link ChunkStatistics#BLOCK_SAMPLES}, then mirrored. */
  private static double[] blas(double[] x, int n, int d) {
    int block = Math.min(n, ChunkStatistics.BLOCK_SAMPLES);
    double[] rows = new double[block * d];
    try (Gram.Blas blas = new Gram.Blas(d, block)) {
      for (int s = 0; s < n; s += block) {
        int m = Math.min(block, n - s);
        System.arraycopy(x, s * d, rows, 0, m * d);
        blas.accumulate(rows, m);
      }
      double[] g = blas.upper();
      Gram.mirror(g, d);
      return g;
    }
  }

  private static int[] parse(String list) {
    return Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
  }
}
