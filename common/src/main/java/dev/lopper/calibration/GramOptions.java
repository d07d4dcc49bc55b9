package dev.lopper.calibration;

import java.io.Serial;
import java.io.Serializable;
import java.util.Objects;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Whether and how {@link ChunkStatistics} computes Gram matrices XᵀX.
 *
 * @param engine which implementation computes them
 * @param threads OpenBLAS and ND4J OpenMP threads for {@link Engine#BLAS} (at least 1). They are
 *     process-wide settings: every task of a JVM must use the same count
 */
public record GramOptions(Engine engine, int threads) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Which implementation computes the Gram matrices. */
  public enum Engine {
    /** No Gram matrix: channel sums only (enough for Wanda). */
    NONE,
    /**
     * {@link #JAVA} below {@value GramOptions#BLAS_MIN_DIM} channels, {@link #BLAS} from there: a
     * function of the dimension alone, so the same input still gives the same bits.
     */
    AUTO,
    /** The plain-Java loop: every entry summed in sample order, the same bits on every JVM and CPU. */
    JAVA,
    /**
     * OpenBLAS (ND4J's BLAS) dsyrk, several times faster from a few dozen channels on. Bitwise
     * reproducible for the same input; measured the same bits at 1 and 2 threads and with
     * OpenBLAS's Haswell and Sandybridge kernels, but OpenBLAS picks its kernel by CPU at run time
     * and promises nothing across kernels.
     */
    BLAS,
  }

  /** Channels from which {@link Engine#AUTO} uses BLAS (docs/benchmarks.md, the Gram matrix). */
  public static final int BLAS_MIN_DIM = 64;

  /** The thread count last set by {@link #applyThreads}, 0 before. */
  private static int appliedThreads;

  public GramOptions {
    Objects.requireNonNull(engine, "engine");
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, got " + threads);
    }
  }

  /** No Gram matrices. */
  public static GramOptions none() {
    return new GramOptions(Engine.NONE, 1);
  }

  /** Gram matrices by {@link Engine#AUTO} on one thread. */
  public static GramOptions defaults() {
    return new GramOptions(Engine.AUTO, 1);
  }

  /** Gram matrices by {@code engine} on one thread. */
  public static GramOptions of(Engine engine) {
    return new GramOptions(engine, 1);
  }

  /** Whether Gram matrices of {@code dim} channels are computed by BLAS. */
  public boolean usesBlas(int dim) {
    return engine == Engine.BLAS || (engine == Engine.AUTO && dim >= BLAS_MIN_DIM);
  }

  /** Whether Gram matrices are computed. */
  public boolean withGram() {
    return engine != Engine.NONE;
  }

  /**
   * Sets ND4J's OpenMP threads and OpenBLAS's threads to {@link #threads()}, for the whole JVM;
   * {@link ChunkStatistics} calls it before a BLAS Gram matrix. Cheap when the count is already set.
   * Measured here: with OpenMP's default (all cores, spinning waits) small ND4J operations ran
   * 10–50× slower, so the count is always set explicitly rather than left to the environment.
   */
  public void applyThreads() {
    synchronized (GramOptions.class) {
      if (appliedThreads != threads) {
        Nd4j.getEnvironment().setMaxThreads(threads);
        Nd4j.getEnvironment().setMaxMasterThreads(threads);
        Nd4j.factory().blas().setMaxThreads(threads);
        appliedThreads = threads;
      }
    }
  }
}
