package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.model.ModelInputs;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * ONNX Runtime latency of a token model (a sentence encoder, a language model) against the smaller
 * models structured {@code prune} runs wrote, timed as a user runs the files: a fresh process, plain
 * sessions on the files on disk, every graph optimisation on, one intra-op and one inter-op thread,
 * a fixed feed of {@code batch} rows of {@code sequence} tokens ({@link LatencyProbe#tokenFeed}); not
 * a test. It checks the speed-up a run's manifest reports with a timing of its own, apart from the
 * pipeline. Run by hand with the class path in the CLASSPATH variable, as docs/benchmarks.md shows:
 * {@code java dev.lopper.structure.TokenLatencyBenchmark data/minilm/all-minilm-l6-v2.onnx 32 128
 * RUN_DIRECTORY...}.
 *
 * <p>Per run directory: a warm-up, then {@value #ROUNDS} rounds of {@value #RUNS} paired runs (the
 * loop of {@link LatencyProbe#compare}: a dense and a pruned run back to back, so that load hits
 * both alike); it prints the dense and pruned medians, the paired speed-up with its range over the
 * rounds, and the manifest's measured speed-up and verified metric beside them.
 *
 * <p>With {@code -Dsessions=both} it asks where the noise of a slow model's timing lives instead:
 * per run directory, {@code -Drounds} rounds (default 6) of {@value #RUNS} paired runs on the
 * sessions opened once and then {@value #RUNS} on a dense and a pruned session opened afresh for
 * the round, printing each round's paired ratio and its standard error
 * ({@link LatencyProbe.Comparison#ratioError()}) for both, and at the end the spread of the round
 * ratios against the rounds' own errors. Rounds of the same sessions that scatter more than their
 * errors say are moved by time (load); fresh sessions that scatter more than the same sessions
 * are moved by something of the session itself (memory placement, kernel choice).
 */
public final class TokenLatencyBenchmark {
  private static final int ROUNDS = 3;
  private static final int RUNS = 5;

  private TokenLatencyBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: TokenLatencyBenchmark DENSE.onnx BATCH SEQUENCE RUN_DIRECTORY...");
      System.exit(2);
    }
    Path dense = Path.of(args[0]);
    int batch = Integer.parseInt(args[1]);
    int sequence = Integer.parseInt(args[2]);
    System.out.println("load average before: " + Files.readString(Path.of("/proc/loadavg")).trim());
    OrtEnvironment env = OrtRuntime.environment();
    ModelInputs inputs = ModelInputs.of(OnnxModel.load(ModelSource.onnx(dense.toString()), new Configuration()));
    Map<String, OnnxTensor> feed = LatencyProbe.tokenFeed(env, inputs, batch, sequence);
    try (OrtSession.SessionOptions options = LatencyProbe.options(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        OrtSession d = env.createSession(dense.toString(), options)) {
      for (int r = 3; r < args.length; r++) {
        Path run = Path.of(args[r]);
        if ("both".equals(System.getProperty("sessions"))) {
          sessions(env, options, d, dense, run.resolve("model/pruned.onnx"), feed, Integer.getInteger("rounds", 6));
          continue;
        }
        try (OrtSession p = env.createSession(run.resolve("model/pruned.onnx").toString(), options)) {
          LatencyProbe.Comparison c = LatencyProbe.compare(d, p, feed, RUNS, ROUNDS, (round, dn, pn) -> { });
          JsonNode results = new ObjectMapper().readTree(run.resolve("manifest.json").toFile()).path("results");
          System.out.printf("%s: %d x %d tokens, %d paired runs x %d rounds: dense %.0f ms, pruned %.0f ms, "
              + "paired speed-up %.3fx [%.3f-%.3f]; the run measured %.3fx; %s drop %.4f%n", run, batch, sequence,
              RUNS, ROUNDS, c.denseNanos() / 1e6, c.candidateNanos() / 1e6, c.speedup(),
              1 / Arrays.stream(c.ratios()).max().orElseThrow(), 1 / Arrays.stream(c.ratios()).min().orElseThrow(),
              results.path("measured_speedup").asDouble(Double.NaN), results.path("metric").asText(),
              results.path("measured_drop").asDouble(Double.NaN));
        }
      }
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
    System.out.println("load average after: " + Files.readString(Path.of("/proc/loadavg")).trim());
  }

  /** Rounds of the sessions opened once and of sessions opened afresh, side by side. */
  private static void sessions(OrtEnvironment env, OrtSession.SessionOptions options, OrtSession d, Path dense,
      Path pruned, Map<String, OnnxTensor> feed, int rounds) throws Exception {
    if (rounds < 2) {
      throw new IllegalArgumentException("-Drounds must be 2 or more to compare the rounds' spread, found " + rounds);
    }
    double[] same = new double[rounds];
    double[] sameError = new double[rounds];
    double[] fresh = new double[rounds];
    double[] freshError = new double[rounds];
    try (OrtSession p = env.createSession(pruned.toString(), options)) {
      for (int r = 0; r < rounds; r++) {
        LatencyProbe.Comparison c = LatencyProbe.compare(d, p, feed, RUNS, 1, (round, dn, pn) -> { });
        same[r] = c.ratio();
        sameError[r] = c.ratioError();
        try (OrtSession fd = env.createSession(dense.toString(), options);
            OrtSession fp = env.createSession(pruned.toString(), options)) {
          LatencyProbe.Comparison f = LatencyProbe.compare(fd, fp, feed, RUNS, 1, (round, dn, pn) -> { });
          fresh[r] = f.ratio();
          freshError[r] = f.ratioError();
          System.out.printf("%s round %d: same sessions %.4f +- %.4f (dense %.0f ms), fresh sessions %.4f +- %.4f"
              + " (dense %.0f ms)%n", pruned, r, same[r], sameError[r], c.denseNanos() / 1e6, fresh[r],
              freshError[r], f.denseNanos() / 1e6);
        }
      }
    }
    System.out.printf("%s: same sessions: ratio sd over rounds %.4f, mean error of a round %.4f, speed-up %.3fx;"
        + " fresh sessions: sd %.4f, mean error %.4f, speed-up %.3fx%n", pruned, LatencyProbe.standardDeviation(same),
        mean(sameError), 1 / LatencyProbe.median(same), LatencyProbe.standardDeviation(fresh), mean(freshError),
        1 / LatencyProbe.median(fresh));
  }

  private static double mean(double[] x) {
    return Arrays.stream(x).average().orElse(Double.NaN);
  }
}
