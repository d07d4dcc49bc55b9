package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.eval.OrtRuntime;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * ONNX Runtime CPU latency of candidate models against a dense one, measured the way a user runs
 * the files: plain sessions on the ONNX bytes with every weight embedded, one intra-op and one
 * inter-op thread, sequential execution, ONNX Runtime's default optimisation level (all, which
 * turns convolutions into its blocked-channel NCHWc layout), a fixed random batch of a configured
 * size.
 *
 * <p>The timing loop ({@link #compare}) is the one {@code StructuredLatencyBenchmark} uses: a
 * warm-up of both models, then rounds of paired runs, one run of the dense model and one of the
 * candidate back to back (in alternating order), so that load on a shared machine hits both runs of
 * a pair alike; a round's figures are the median of each model's runs and the median of the pairs'
 * ratios, and a comparison's are the medians over the rounds. Speed-up and saving come from the
 * paired ratios.
 *
 * <pre>{@code
 * try (LatencyProbe probe = LatencyProbe.open(dense.onnxBytes(), rowShape, 256, LatencyProbe.Budget.DEFAULT)) {
 *   LatencyProbe.Comparison c = probe.against(small.onnxBytes());
 *   c.speedup();   // dense median / candidate median
 *   c.saving();    // 1 - candidate / dense: the fraction of the dense latency saved (can be <= 0)
 * }
 * }</pre>
 *
 * <p>Not thread-safe; meant for the driver, after the sweep, on an otherwise idle process.
 */
public final class LatencyProbe implements AutoCloseable {

  /**
   * How long a probe measures.
   *
   * @param rounds rounds per comparison (odd is best: the median is one round's)
   * @param roundNanos how long the dense model's runs of one round should take together; the runs
   *     per round follow from the dense model's latency, at least {@code minRuns}
   * @param minRuns the fewest runs per round
   */
  public record Budget(int rounds, long roundNanos, int minRuns) {
    /** 5 rounds of about 40 ms of dense runs each, at least 5 runs per round. */
    public static final Budget DEFAULT = new Budget(5, 40_000_000L, 5);

    public Budget {
      if (rounds < 1 || roundNanos < 1 || minRuns < 1) {
        throw new IllegalArgumentException("rounds, roundNanos and minRuns must be positive, found " + rounds + ", "
            + roundNanos + ", " + minRuns);
      }
    }

    /** This budget with {@code factor} times the rounds. */
    public Budget timesRounds(int factor) {
      return new Budget(rounds * factor, roundNanos, minRuns);
    }
  }

  /**
   * One candidate timed against the dense model: per round, the median latency of each (in
   * nanoseconds per run) and the median of the ratios of paired runs (candidate over dense, each
   * pair run back to back).
   *
   * @param dense the dense model's median per round
   * @param candidate the candidate's median per round
   * @param ratios the median per round of candidate / dense over the round's paired runs
   * @param runs runs of each model per round
   */
  public record Comparison(double[] dense, double[] candidate, double[] ratios, int runs) {

    public Comparison {
      dense = dense.clone();
      candidate = candidate.clone();
      ratios = ratios.clone();
      if (dense.length == 0 || dense.length != candidate.length || dense.length != ratios.length) {
        throw new IllegalArgumentException("needs one dense, candidate and ratio figure per round, found "
            + dense.length + ", " + candidate.length + " and " + ratios.length);
      }
    }

    /** The dense model's latency: the median of its round medians. */
    public double denseNanos() {
      return median(dense);
    }

    /** The candidate's latency: the median of its round medians. */
    public double candidateNanos() {
      return median(candidate);
    }

    /**
     * The candidate's latency relative to the dense model's: the median of the rounds' median ratio
     * of paired runs. Pairing cancels what slows both runs of a pair alike (another process on the
     * core or its hyper-thread sibling, frequency changes), which the ratio of the two medians does
     * not when the load changes between them.
     */
    public double ratio() {
      return median(ratios);
    }

    /** How many times faster the candidate runs: {@code 1 / ratio()}. */
    public double speedup() {
      return 1 / ratio();
    }

    /** The fraction of the dense latency the candidate saves, {@code 1 - ratio()}; negative when slower. */
    public double saving() {
      return 1 - ratio();
    }

    @Override
    public double[] dense() {
      return dense.clone();
    }

    @Override
    public double[] candidate() {
      return candidate.clone();
    }

    @Override
    public double[] ratios() {
      return ratios.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Comparison c && runs == c.runs && Arrays.equals(dense, c.dense)
          && Arrays.equals(candidate, c.candidate) && Arrays.equals(ratios, c.ratios);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (31 * Arrays.hashCode(dense) + Arrays.hashCode(candidate)) + Arrays.hashCode(ratios)) + runs;
    }

    @Override
    public String toString() {
      return String.format("Comparison[dense %.1f us, candidate %.1f us, %.3fx, %d runs x %d rounds]",
          denseNanos() / 1e3, candidateNanos() / 1e3, speedup(), runs, dense.length);
    }
  }

  /** Called after every round of {@link #compare}, with the round's index and medians (ns). */
  @FunctionalInterface
  public interface RoundListener {
    /** Round {@code round} measured {@code denseNanos} and {@code candidateNanos}. */
    void round(int round, double denseNanos, double candidateNanos);
  }

  private final OrtEnvironment env;
  private final OrtSession.SessionOptions options;
  private final OrtSession dense;
  private final OnnxTensor input;
  private final Budget budget;
  private final int runs;

  private LatencyProbe(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession dense, OnnxTensor input,
      Budget budget, int runs) {
    this.env = env;
    this.options = options;
    this.dense = dense;
    this.input = input;
    this.budget = budget;
    this.runs = runs;
  }

  /**
   * Opens the dense model and prepares its input, then settles the runs per round from the dense
   * model's warmed-up latency.
   *
   * @param denseOnnx the dense model's ONNX file, weights embedded
   * @param rowShape one row's input shape, without the batch dimension
   * @param batch rows per run
   * @throws IllegalStateException when ONNX Runtime cannot open or run the model
   */
  public static LatencyProbe open(byte[] denseOnnx, long[] rowShape, int batch, Budget budget) {
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be positive, found " + batch);
    }
    OrtEnvironment env = OrtRuntime.environment();
    OrtSession.SessionOptions options = options(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    OrtSession session = null;
    OnnxTensor input = null;
    try {
      session = env.createSession(denseOnnx, options);
      input = input(env, batch, rowShape);
      double[] warm = runs(session, Map.of(session.getInputNames().iterator().next(), input), 2 * budget.minRuns());
      double perRun = median(Arrays.copyOfRange(warm, budget.minRuns(), warm.length));
      int runs = (int) Math.max(budget.minRuns(), Math.min(100_000, budget.roundNanos() / Math.max(1.0, perRun)));
      return new LatencyProbe(env, options, session, input, budget, runs);
    } catch (OrtException e) {
      closeQuietly(input, session, options);
      throw new IllegalStateException("ONNX Runtime cannot run the dense model for the latency probe: "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(input, session, options);
      throw e;
    }
  }

  /** The runs of each model per round, chosen from the dense model's latency. */
  public int runsPerRound() {
    return runs;
  }

  /**
   * Times {@code candidateOnnx} against the dense model with this probe's budget.
   *
   * @param candidateOnnx an ONNX file with weights embedded, with the dense model's input
   * @throws IllegalStateException when ONNX Runtime cannot open or run the candidate
   */
  public Comparison against(byte[] candidateOnnx) {
    return against(candidateOnnx, budget);
  }

  /** Times {@code candidateOnnx} against the dense model for {@code budget.rounds()} rounds. */
  public Comparison against(byte[] candidateOnnx, Budget budget) {
    try (OrtSession candidate = env.createSession(candidateOnnx, options)) {
      return compare(dense, candidate, input, runs, budget.rounds(), (r, d, c) -> {});
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime cannot run a candidate model for the latency probe: "
          + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    closeQuietly(input, dense, options);
  }

  /**
   * Session options as users run models on one core: one intra-op and one inter-op thread,
   * sequential execution, optimisation {@code level}. The caller closes them.
   */
  public static OrtSession.SessionOptions options(OrtSession.SessionOptions.OptLevel level) {
    OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    try {
      options.setIntraOpNumThreads(1);
      options.setInterOpNumThreads(1);
      options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      options.setOptimizationLevel(level);
      return options;
    } catch (OrtException e) {
      options.close();
      throw new IllegalStateException("cannot set ONNX Runtime session options: " + e.getMessage(), e);
    }
  }

  /** A fixed batch of standard normal values (seed 1) of shape {@code [batch, rowShape...]}. */
  public static OnnxTensor input(OrtEnvironment env, int batch, long[] rowShape) throws OrtException {
    long[] shape = new long[rowShape.length + 1];
    shape[0] = batch;
    long size = batch;
    for (int i = 0; i < rowShape.length; i++) {
      shape[i + 1] = rowShape[i];
      size *= rowShape[i];
    }
    if (size > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a batch of " + batch + " rows of " + Arrays.toString(rowShape)
          + " is too large for one input tensor");
    }
    FloatBuffer data = FloatBuffer.allocate((int) size);
    Random random = new Random(1);
    for (int i = 0; i < data.capacity(); i++) {
      data.put(i, (float) random.nextGaussian());
    }
    return OnnxTensor.createTensor(env, data, shape);
  }

  /**
   * The timing loop: {@code runs / 2} warm-up pairs, then {@code rounds} rounds of {@code runs}
   * pairs, each pair one run of the dense model and one of the candidate back to back (which goes
   * first alternates from pair to pair and round to round). A round's figures are the median of
   * each model's runs and the median of the pairs' ratios.
   *
   * @param input the input of both models (their first input name)
   * @param listener told each round's medians as it ends
   */
  public static Comparison compare(OrtSession dense, OrtSession candidate, OnnxTensor input, int runs, int rounds,
      RoundListener listener) throws OrtException {
    Map<String, OnnxTensor> denseInput = Map.of(dense.getInputNames().iterator().next(), input);
    Map<String, OnnxTensor> candidateInput = Map.of(candidate.getInputNames().iterator().next(), input);
    for (int i = 0; i < Math.max(1, runs / 2); i++) {
      once(dense, denseInput);
      once(candidate, candidateInput);
    }
    double[] denseMedians = new double[rounds];
    double[] candidateMedians = new double[rounds];
    double[] ratioMedians = new double[rounds];
    double[] d = new double[runs];
    double[] c = new double[runs];
    double[] ratio = new double[runs];
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < runs; i++) {
        if ((i + r) % 2 == 0) {
          d[i] = once(dense, denseInput);
          c[i] = once(candidate, candidateInput);
        } else {
          c[i] = once(candidate, candidateInput);
          d[i] = once(dense, denseInput);
        }
        ratio[i] = c[i] / d[i];
      }
      denseMedians[r] = median(d);
      candidateMedians[r] = median(c);
      ratioMedians[r] = median(ratio);
      listener.round(r, denseMedians[r], candidateMedians[r]);
    }
    return new Comparison(denseMedians, candidateMedians, ratioMedians, runs);
  }

  /** Nanoseconds of one run. */
  private static double once(OrtSession session, Map<String, OnnxTensor> input) throws OrtException {
    long t0 = System.nanoTime();
    try (OrtSession.Result result = session.run(input)) {
      return System.nanoTime() - t0;
    }
  }

  /** Nanoseconds of each of {@code n} runs. */
  public static double[] runs(OrtSession session, Map<String, OnnxTensor> input, int n) throws OrtException {
    double[] times = new double[n];
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      try (OrtSession.Result result = session.run(input)) {
        times[i] = System.nanoTime() - t0;
      }
    }
    return times;
  }

  /** The median (the mean of the middle two for an even count). */
  public static double median(double[] values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no values");
    }
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  private static void closeQuietly(OnnxTensor input, OrtSession session, OrtSession.SessionOptions options) {
    if (input != null) {
      input.close();
    }
    if (session != null) {
      try {
        session.close();
      } catch (OrtException ignored) {
        // closing a session that ran fails only if ONNX Runtime is already broken
      }
    }
    options.close();
  }
}
