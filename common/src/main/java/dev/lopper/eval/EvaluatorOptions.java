package dev.lopper.eval;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import java.io.Serializable;
import java.util.Objects;

/**
 * How an {@link Evaluator} builds its ONNX Runtime sessions.
 *
 * @param intraOpThreads threads one session uses for one run (default 1: Spark runs one task per
 *     core, so more threads per task only contend)
 * @param optimisation ONNX Runtime's graph optimisation level (default {@code ALL_OPT})
 * @param fedFromElements the size, in elements, from which a model's largest float weight makes
 *     the evaluator read weights as graph inputs of unpacked sessions ({@link
 *     Evaluator#readsWeightsAsInputs}); default {@value #DEFAULT_FED_FROM_ELEMENTS}
 */
public record EvaluatorOptions(int intraOpThreads, OptLevel optimisation, long fedFromElements)
    implements Serializable {
  /**
   * 2^24 weights (64 MiB of floats): below it ONNX Runtime's pre-packed GEMM, faster than the
   * unpacked one, pays for a session per variant, whose copies of small weights take milliseconds;
   * above it copying and packing the weights into every session costs more than the runs
   * (docs/design.md, "Evaluating a variant").
   */
  public static final long DEFAULT_FED_FROM_ELEMENTS = 1L << 24;

  public EvaluatorOptions {
    if (intraOpThreads < 1) {
      throw new IllegalArgumentException("intraOpThreads must be at least 1, got " + intraOpThreads);
    }
    Objects.requireNonNull(optimisation, "optimisation");
    if (fedFromElements < 0) {
      throw new IllegalArgumentException("fedFromElements must be >= 0, got " + fedFromElements);
    }
  }

  /** One intra-op thread, full optimisation. */
  public static EvaluatorOptions defaults() {
    return new EvaluatorOptions(1, OptLevel.ALL_OPT, DEFAULT_FED_FROM_ELEMENTS);
  }

  /** These options with {@code threads} intra-op threads. */
  public EvaluatorOptions withIntraOpThreads(int threads) {
    return new EvaluatorOptions(threads, optimisation, fedFromElements);
  }

  /** These options with optimisation level {@code level}. */
  public EvaluatorOptions withOptimisation(OptLevel level) {
    return new EvaluatorOptions(intraOpThreads, level, fedFromElements);
  }

  /** These options with weights read as inputs from models whose largest weight has {@code elements}. */
  public EvaluatorOptions withFedFromElements(long elements) {
    return new EvaluatorOptions(intraOpThreads, optimisation, elements);
  }
}
