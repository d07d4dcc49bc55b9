package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.eval.OrtRuntime;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * ONNX Runtime latency and throughput of a dense model against its structurally pruned one, as a
 * user would run the files (plain sessions on the written ONNX files, weights embedded, every graph
 * optimisation on, one intra-op and one inter-op thread); not a test. Run by hand after a structured
 * {@code prune}, with the class path in the CLASSPATH variable (never a long {@code -cp}), as
 * docs/benchmarks.md shows:
 * {@code java dev.lopper.structure.StructuredLatencyBenchmark data/digits-cnn.onnx runs/cnn-structured ...}.
 *
 * <p>For every run directory given, at ONNX Runtime's full optimisation (its default, which turns
 * convolutions into the blocked-channel NCHWc layout) and at the extended level (without that
 * layout), for batch sizes 1 and 256: a warm-up, then rounds that each time every single run of
 * the dense model and of the pruned one (in alternating order, so that drifting load hits both
 * alike); it prints per round the median latency of each, and the median, minimum and maximum of
 * the round medians, the throughput (rows per second at the median) and the speed-up; then the
 * file sizes and the verified accuracies from each run directory's {@code verification.csv}.
 */
public final class StructuredLatencyBenchmark {
  private static final int ROUNDS = 7;

  private StructuredLatencyBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: StructuredLatencyBenchmark DENSE.onnx RUN_DIRECTORY...");
      System.exit(2);
    }
    Path dense = Path.of(args[0]);
    System.out.println("load average before: " + Files.readString(Path.of("/proc/loadavg")).trim());
    OrtEnvironment env = OrtRuntime.environment();
    for (OrtSession.SessionOptions.OptLevel level : List.of(OrtSession.SessionOptions.OptLevel.ALL_OPT,
        OrtSession.SessionOptions.OptLevel.EXTENDED_OPT)) {
      try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
        options.setIntraOpNumThreads(1);
        options.setInterOpNumThreads(1);
        options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        options.setOptimizationLevel(level);
        for (int r = 1; r < args.length; r++) {
          Path pruned = Path.of(args[r]).resolve("model/pruned.onnx");
          System.out.println("== " + level + ": " + dense + " against " + pruned);
          try (OrtSession d = env.createSession(dense.toString(), options);
              OrtSession p = env.createSession(pruned.toString(), options)) {
            for (int batch : new int[] {1, 256}) {
              time(env, d, p, batch, batch == 1 ? 20_000 : 2_000);
            }
          }
        }
      }
    }
    for (int r = 1; r < args.length; r++) {
      Path run = Path.of(args[r]);
      long denseBytes = Files.size(dense);
      long prunedBytes = Files.size(run.resolve("model/pruned.onnx"));
      System.out.printf("%s: files: dense %d bytes, pruned %d bytes, %.2fx smaller%n", run, denseBytes, prunedBytes,
          (double) denseBytes / prunedBytes);
      printAccuracy(run.resolve("verification.csv"));
    }
    System.out.println("load average after: " + Files.readString(Path.of("/proc/loadavg")).trim());
  }

  private static void time(OrtEnvironment env, OrtSession dense, OrtSession pruned, int batch, int iterations)
      throws OrtException {
    long[] shape = {batch, 1, 8, 8};
    FloatBuffer data = FloatBuffer.allocate(batch * 64);
    Random random = new Random(1);
    for (int i = 0; i < data.capacity(); i++) {
      data.put(i, (float) random.nextGaussian());
    }
    try (OnnxTensor input = OnnxTensor.createTensor(env, data, shape)) {
      Map<String, OnnxTensor> denseInput = Map.of(dense.getInputNames().iterator().next(), input);
      Map<String, OnnxTensor> prunedInput = Map.of(pruned.getInputNames().iterator().next(), input);
      runs(dense, denseInput, iterations / 2);
      runs(pruned, prunedInput, iterations / 2);
      double[] denseMedians = new double[ROUNDS];
      double[] prunedMedians = new double[ROUNDS];
      for (int r = 0; r < ROUNDS; r++) {
        if (r % 2 == 0) {
          denseMedians[r] = median(runs(dense, denseInput, iterations));
          prunedMedians[r] = median(runs(pruned, prunedInput, iterations));
        } else {
          prunedMedians[r] = median(runs(pruned, prunedInput, iterations));
          denseMedians[r] = median(runs(dense, denseInput, iterations));
        }
        System.out.printf("batch %d round %d: dense %.1f us, pruned %.1f us%n", batch, r, denseMedians[r] / 1e3,
            prunedMedians[r] / 1e3);
      }
      double dm = median(denseMedians);
      double pm = median(prunedMedians);
      System.out.printf("batch %d, %d runs x %d rounds: dense median %.1f us [%.1f-%.1f], %.0f rows/s; "
          + "pruned median %.1f us [%.1f-%.1f], %.0f rows/s; %.2fx lower latency%n", batch, iterations, ROUNDS,
          dm / 1e3, min(denseMedians) / 1e3, max(denseMedians) / 1e3, batch / (dm / 1e9),
          pm / 1e3, min(prunedMedians) / 1e3, max(prunedMedians) / 1e3, batch / (pm / 1e9), dm / pm);
    }
  }

  /** Nanoseconds of each of {@code n} runs. */
  private static double[] runs(OrtSession session, Map<String, OnnxTensor> input, int n) throws OrtException {
    double[] times = new double[n];
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      try (OrtSession.Result result = session.run(input)) {
        times[i] = System.nanoTime() - t0;
      }
    }
    return times;
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  private static double min(double[] v) {
    return Arrays.stream(v).min().orElseThrow();
  }

  private static double max(double[] v) {
    return Arrays.stream(v).max().orElseThrow();
  }

  private static void printAccuracy(Path verification) throws IOException {
    List<String> lines = Files.readAllLines(verification);
    List<String> header = Arrays.asList(lines.get(0).split(","));
    int accuracy = header.indexOf("accuracy");
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",");
      System.out.println("verified accuracy, " + cells[0] + ": " + cells[accuracy]);
    }
  }
}
