package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.model.ModelInputs;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

/**
 * ONNX Runtime CPU latency of candidate models against a dense one, measured the way a user runs
 * the files: plain sessions on the ONNX bytes with every weight embedded, one intra-op and one
 * inter-op thread, sequential execution, ONNX Runtime's default optimisation level (all, which
 * turns convolutions into its blocked-channel NCHWc layout), a fixed random batch of a configured
 * size: for a model of one float input a batch of standard normal rows ({@link #open(byte[], long[],
 * int, Budget)}), for any other a feed of several named inputs ({@link #open(byte[], Map, Budget)},
 * e.g. {@link #tokenFeed} for token models: ids, mask and token types of {@code batch} rows of
 * {@code sequence} tokens).
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
   * @param maxNanos about the longest the dense model's runs of one comparison may take together:
   *     when {@code minRuns} runs of a slow model make the rounds longer than that, a comparison has
   *     fewer rounds (at least one). MiniLM at 32 × 128 tokens takes about 2 s a run on one core, and
   *     5 rounds of 5 paired runs would take 100 s per candidate. Its pairs scatter by about 5% of
   *     the ratio whatever their length ({@link Comparison#ratioError()}), so what a slow model's
   *     comparison buys with its time is pairs, not rounds.
   */
  public record Budget(int rounds, long roundNanos, int minRuns, long maxNanos) {
    /**
     * 5 rounds of about 40 ms of dense runs each, at least 5 runs per round; for a model slower
     * than 1.2 s a run, as many rounds as fit in 30 s of dense runs (at least one): MiniLM at 32 ×
     * 128 tokens gets 2 rounds of 5 pairs.
     */
    public static final Budget DEFAULT = new Budget(5, 40_000_000L, 5, 30_000_000_000L);

    public Budget {
      if (rounds < 1 || roundNanos < 1 || minRuns < 1 || maxNanos < 1) {
        throw new IllegalArgumentException("rounds, roundNanos, minRuns and maxNanos must be positive, found " + rounds
            + ", " + roundNanos + ", " + minRuns + ", " + maxNanos);
      }
    }

    /** A budget that never cuts the rounds of a slow model. */
    public Budget(int rounds, long roundNanos, int minRuns) {
      this(rounds, roundNanos, minRuns, Long.MAX_VALUE);
    }

    /** This budget with {@code factor} times the rounds (and the time they may take). */
    public Budget timesRounds(int factor) {
      return new Budget(rounds * factor, roundNanos, minRuns,
          maxNanos > Long.MAX_VALUE / factor ? Long.MAX_VALUE : maxNanos * factor);
    }

    /**
     * The rounds of a comparison with {@code runs} dense runs of {@code perRunNanos} each per round:
     * {@link #rounds()}, cut to as many as fit in {@link #maxNanos()}, at least one.
     */
    public int roundsFor(int runs, double perRunNanos) {
      double perRound = runs * Math.max(1.0, perRunNanos);
      return (int) Math.max(1, Math.min(rounds, Math.floor(maxNanos / perRound)));
    }
  }

  /**
   * One candidate timed against the dense model: per round, the median latency of each (in
   * nanoseconds per run) and the median of the ratios of paired runs (candidate over dense, each
   * pair run back to back), and every pair's ratio in the order they ran.
   *
   * @param dense the dense model's median per round
   * @param candidate the candidate's median per round
   * @param ratios the median per round of candidate / dense over the round's paired runs
   * @param runs runs of each model per round
   * @param pairs every paired run's ratio, candidate / dense, round after round ({@code runs} per
   *     round)
   */
  public record Comparison(double[] dense, double[] candidate, double[] ratios, int runs, double[] pairs) {

    public Comparison {
      dense = dense.clone();
      candidate = candidate.clone();
      ratios = ratios.clone();
      pairs = pairs.clone();
      if (dense.length == 0 || dense.length != candidate.length || dense.length != ratios.length) {
        throw new IllegalArgumentException("needs one dense, candidate and ratio figure per round, found "
            + dense.length + ", " + candidate.length + " and " + ratios.length);
      }
      if (pairs.length != (long) runs * dense.length) {
        throw new IllegalArgumentException("needs " + runs + " paired ratios per round, " + (long) runs * dense.length
            + " in all, found " + pairs.length);
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

    /**
     * The standard error of {@link #ratio()}: the larger of two estimates. Within rounds, from the
     * spread of the paired ratios: the standard deviation estimated robustly as 1.4826 × their
     * median absolute deviation, times the median's 1.2533 / √(pairs) (the large-sample error of a
     * normal sample's median). Between rounds, with three or more: the standard deviation of the
     * round medians times 1.2533 / √(rounds). The second catches what moves whole rounds (the
     * machine's load changing the ratio itself, not only both runs of a pair), which the first
     * cannot see. NaN with fewer than two pairs. On this machine a pair of MiniLM runs at 32 × 128
     * tokens scatters with a standard deviation of about 0.05, so 10 pairs pin the ratio to about
     * ±0.02 and 40 to ±0.01, and rounds of 5 pairs minutes apart scatter by about 0.027 where their
     * pairs say 0.019; a model of a few milliseconds gets hundreds of pairs a round and an error far
     * below that.
     */
    public double ratioError() {
      if (pairs.length < 2) {
        return Double.NaN;
      }
      double m = median(pairs);
      double[] deviations = new double[pairs.length];
      for (int i = 0; i < pairs.length; i++) {
        deviations[i] = Math.abs(pairs[i] - m);
      }
      double within = 1.2533 * 1.4826 * median(deviations) / Math.sqrt(pairs.length);
      if (ratios.length < 3) {
        return within;
      }
      return Math.max(within, 1.2533 * standardDeviation(ratios) / Math.sqrt(ratios.length));
    }

    /** The standard error of {@link #speedup()}: {@code ratioError() / ratio()²}. */
    public double speedupError() {
      double r = ratio();
      return ratioError() / (r * r);
    }

    /**
     * Whether this comparison tells the candidate's speed-up apart from {@code speedup}: its ratio
     * lies more than {@code z} standard errors ({@link #ratioError()}) from {@code 1 / speedup}.
     * Without an error estimate (one pair), never.
     */
    public boolean decides(double speedup, double z) {
      double error = ratioError();
      return Double.isFinite(error) && Math.abs(ratio() - 1 / speedup) > z * error;
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
    public double[] pairs() {
      return pairs.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Comparison c && runs == c.runs && Arrays.equals(dense, c.dense)
          && Arrays.equals(candidate, c.candidate) && Arrays.equals(ratios, c.ratios) && Arrays.equals(pairs, c.pairs);
    }

    @Override
    public int hashCode() {
      return 31 * (31 * (31 * (31 * Arrays.hashCode(dense) + Arrays.hashCode(candidate)) + Arrays.hashCode(ratios))
          + Arrays.hashCode(pairs)) + runs;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "Comparison[dense %.1f us, candidate %.1f us, %.3fx +- %.3f, %d runs x %d rounds]",
          denseNanos() / 1e3, candidateNanos() / 1e3, speedup(), speedupError(), runs, dense.length);
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
  private final Map<String, OnnxTensor> feed;
  private final Budget budget;
  private final int runs;
  private final double perRunNanos;

  private LatencyProbe(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession dense,
      Map<String, OnnxTensor> feed, Budget budget, int runs, double perRunNanos) {
    this.env = env;
    this.options = options;
    this.dense = dense;
    this.feed = feed;
    this.budget = budget;
    this.runs = runs;
    this.perRunNanos = perRunNanos;
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
    OnnxTensor input;
    try {
      input = input(env, batch, rowShape);
    } catch (OrtException e) {
      throw new IllegalStateException("cannot make the latency probe's input: " + e.getMessage(), e);
    }
    return open(denseOnnx, Map.of(FIRST_INPUT, input), budget);
  }

  /**
   * Opens the dense model with a feed of named inputs (the probe owns and closes the tensors, also
   * when opening fails), then settles the runs per round from the dense model's warmed-up latency.
   * Candidates must take the same inputs.
   *
   * @param feed the inputs by graph input name, every input of the model
   * @throws IllegalStateException when ONNX Runtime cannot open or run the model
   */
  public static LatencyProbe open(byte[] denseOnnx, Map<String, OnnxTensor> feed, Budget budget) {
    OrtEnvironment env = OrtRuntime.environment();
    OrtSession.SessionOptions options = options(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    OrtSession session = null;
    Map<String, OnnxTensor> inputs = new LinkedHashMap<>(feed);
    try {
      session = env.createSession(denseOnnx, options);
      double[] warm = runs(session, named(session, inputs), 2 * budget.minRuns());
      double perRun = median(Arrays.copyOfRange(warm, budget.minRuns(), warm.length));
      int runs = (int) Math.max(budget.minRuns(), Math.min(100_000, budget.roundNanos() / Math.max(1.0, perRun)));
      return new LatencyProbe(env, options, session, inputs, budget, runs, perRun);
    } catch (OrtException e) {
      closeQuietly(inputs, session, options);
      throw new IllegalStateException("ONNX Runtime cannot run the dense model for the latency probe: "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(inputs, session, options);
      throw e;
    }
  }

  /** The key of a one-tensor feed that goes to whatever a session's first input is called. */
  private static final String FIRST_INPUT = "\u0000first";

  /** {@code feed} keyed by {@code session}'s input names (a one-tensor feed under FIRST_INPUT renamed). */
  private static Map<String, OnnxTensor> named(OrtSession session, Map<String, OnnxTensor> feed) {
    if (feed.size() == 1 && feed.containsKey(FIRST_INPUT)) {
      return Map.of(session.getInputNames().iterator().next(), feed.get(FIRST_INPUT));
    }
    return feed;
  }

  /**
   * A fixed feed for a token model: {@code batch} rows of {@code sequence} tokens for every input
   * of {@code inputs}. An input whose name says mask ({@code attention_mask}) is all ones, one that
   * says type ({@code token_type_ids}) or that indexes no embedding table is all zeros, and any other
   * (the token ids) holds random ids (seed 1) below its embedding table's rows. Integer inputs take
   * their own element type (int64 or int32); the caller closes the tensors (or hands them to {@link
   * #open(byte[], Map, Budget)}).
   *
   * @throws IllegalArgumentException when an input is neither int64 nor int32 or is not of rank 2
   */
  public static Map<String, OnnxTensor> tokenFeed(OrtEnvironment env, ModelInputs inputs, int batch, int sequence)
      throws OrtException {
    if (batch < 1 || sequence < 1) {
      throw new IllegalArgumentException("batch and sequence must be positive, found " + batch + " and " + sequence);
    }
    Map<String, OnnxTensor> feed = new LinkedHashMap<>();
    try {
      for (ModelInputs.Input input : inputs.inputs()) {
        if (input.dims().length != 2) {
          throw new IllegalArgumentException("the latency probe feeds token inputs of shape [batch, sequence], but "
              + input + " has rank " + input.dims().length);
        }
        String name = input.name().toLowerCase(Locale.ROOT);
        long[] values = new long[batch * sequence];
        if (name.contains("mask")) {
          Arrays.fill(values, 1);
        } else if (!name.contains("type") && input.vocabulary() > 0) {
          Random random = new Random(1);
          for (int i = 0; i < values.length; i++) {
            values[i] = (long) (random.nextDouble() * input.vocabulary());
          }
        }
        long[] shape = {batch, sequence};
        if (input.elementType() == onnx.Onnx.TensorProto.DataType.INT64_VALUE) {
          feed.put(input.name(), OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape));
        } else if (input.elementType() == onnx.Onnx.TensorProto.DataType.INT32_VALUE) {
          int[] ints = new int[values.length];
          for (int i = 0; i < ints.length; i++) {
            ints[i] = (int) values[i];
          }
          feed.put(input.name(), OnnxTensor.createTensor(env, IntBuffer.wrap(ints), shape));
        } else {
          throw new IllegalArgumentException("the latency probe feeds token models int64 or int32 inputs, but "
              + input + " is " + input.typeName());
        }
      }
      return feed;
    } catch (OrtException | RuntimeException e) {
      feed.values().forEach(OnnxTensor::close);
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

  /**
   * Times {@code candidateOnnx} against the dense model for {@code budget.rounds()} rounds, fewer
   * for a slow model ({@link Budget#roundsFor}).
   */
  public Comparison against(byte[] candidateOnnx, Budget budget) {
    int rounds = budget.roundsFor(runs, perRunNanos);
    return against(candidateOnnx, rounds, rounds, c -> false);
  }

  /**
   * How many standard errors ({@link Comparison#ratioError()}) from the bar a measured ratio must
   * lie for {@link #against(byte[], Budget, Budget, double)} to stop early.
   */
  public static final double DECISION_Z = 2.0;

  /**
   * Times {@code candidateOnnx} against the dense model until its speed-up is told apart from
   * {@code speedup}: {@code start}'s rounds ({@link Budget#roundsFor}), then one more round at a
   * time while the ratio lies within {@link #DECISION_Z} standard errors of {@code 1 / speedup}
   * ({@link Comparison#decides}), up to {@code most}'s rounds. A candidate far from the bar is
   * settled in {@code start}'s rounds; one near it gets up to {@code most}'s, and its verdict is
   * then the best estimate the longest measurement gives.
   */
  public Comparison against(byte[] candidateOnnx, Budget start, Budget most, double speedup) {
    int rounds = start.roundsFor(runs, perRunNanos);
    int maxRounds = Math.max(rounds, most.roundsFor(runs, perRunNanos));
    return against(candidateOnnx, rounds, maxRounds, c -> !c.decides(speedup, DECISION_Z));
  }

  private Comparison against(byte[] candidateOnnx, int rounds, int maxRounds,
      Predicate<Comparison> more) {
    try (OrtSession candidate = env.createSession(candidateOnnx, options)) {
      return compare(dense, candidate, feed, runs, rounds, maxRounds, more, (r, d, c) -> {});
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime cannot run a candidate model for the latency probe: "
          + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    closeQuietly(feed, dense, options);
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
    return compare(dense, candidate, Map.of(FIRST_INPUT, input), runs, rounds, listener);
  }

  /**
   * The timing loop of {@link #compare(OrtSession, OrtSession, OnnxTensor, int, int, RoundListener)}
   * on a feed of named inputs, the same for both models.
   */
  public static Comparison compare(OrtSession dense, OrtSession candidate, Map<String, OnnxTensor> feed, int runs,
      int rounds, RoundListener listener) throws OrtException {
    return compare(dense, candidate, feed, runs, rounds, rounds, c -> false, listener);
  }

  /**
   * The timing loop with a variable length: {@code rounds} rounds, then more, one at a time, while
   * {@code more} says so of the comparison so far, up to {@code maxRounds}.
   */
  public static Comparison compare(OrtSession dense, OrtSession candidate, Map<String, OnnxTensor> feed, int runs,
      int rounds, int maxRounds, Predicate<Comparison> more, RoundListener listener)
      throws OrtException {
    if (runs < 1 || rounds < 1 || maxRounds < rounds) {
      throw new IllegalArgumentException("needs runs >= 1 and 1 <= rounds <= maxRounds, found " + runs + ", " + rounds
          + " and " + maxRounds);
    }
    Map<String, OnnxTensor> denseInput = named(dense, feed);
    Map<String, OnnxTensor> candidateInput = named(candidate, feed);
    for (int i = 0; i < Math.max(1, runs / 2); i++) {
      once(dense, denseInput);
      once(candidate, candidateInput);
    }
    double[] denseMedians = new double[maxRounds];
    double[] candidateMedians = new double[maxRounds];
    double[] ratioMedians = new double[maxRounds];
    double[] pairs = new double[Math.multiplyExact(runs, maxRounds)];
    double[] d = new double[runs];
    double[] c = new double[runs];
    double[] ratio = new double[runs];
    for (int r = 0; ; r++) {
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
      System.arraycopy(ratio, 0, pairs, r * runs, runs);
      denseMedians[r] = median(d);
      candidateMedians[r] = median(c);
      ratioMedians[r] = median(ratio);
      listener.round(r, denseMedians[r], candidateMedians[r]);
      int done = r + 1;
      if (done >= rounds) {
        Comparison so = new Comparison(Arrays.copyOf(denseMedians, done), Arrays.copyOf(candidateMedians, done),
            Arrays.copyOf(ratioMedians, done), runs, Arrays.copyOf(pairs, done * runs));
        if (done == maxRounds || !more.test(so)) {
          return so;
        }
      }
    }
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

  /** The sample standard deviation (n − 1 in the denominator); needs two values or more. */
  public static double standardDeviation(double[] values) {
    if (values.length < 2) {
      throw new IllegalArgumentException("a standard deviation needs two values or more, found " + values.length);
    }
    double mean = Arrays.stream(values).average().orElseThrow();
    return Math.sqrt(Arrays.stream(values).map(v -> (v - mean) * (v - mean)).sum() / (values.length - 1));
  }

  private static void closeQuietly(Map<String, OnnxTensor> feed, OrtSession session,
      OrtSession.SessionOptions options) {
    feed.values().forEach(OnnxTensor::close);
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
