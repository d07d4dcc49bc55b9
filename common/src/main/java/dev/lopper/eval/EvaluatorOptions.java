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
 */
public record EvaluatorOptions(int intraOpThreads, OptLevel optimisation) implements Serializable {

  public EvaluatorOptions {
    if (intraOpThreads < 1) {
      throw new IllegalArgumentException("intraOpThreads must be at least 1, got " + intraOpThreads);
    }
    Objects.requireNonNull(optimisation, "optimisation");
  }

  /** One intra-op thread, full optimisation. */
  public static EvaluatorOptions defaults() {
    return new EvaluatorOptions(1, OptLevel.ALL_OPT);
  }

  /** These options with {@code threads} intra-op threads. */
  public EvaluatorOptions withIntraOpThreads(int threads) {
    return new EvaluatorOptions(threads, optimisation);
  }

  /** These options with optimisation level {@code level}. */
  public EvaluatorOptions withOptimisation(OptLevel level) {
    return new EvaluatorOptions(intraOpThreads, level);
  }
}
