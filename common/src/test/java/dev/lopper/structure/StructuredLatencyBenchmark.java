package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.eval.OrtRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

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
 * layout), for batch sizes 1 and 256: a warm-up, then rounds of paired runs, a run of the dense
 * model and one of the pruned one back to back, so that load on a shared machine hits both runs of
 * a pair alike (the loop is {@link LatencyProbe#compare}, the one the pipeline's latency probe
 * uses); it prints per round the median latency of each, and the median, minimum and maximum of the
 * round medians, the throughput (rows per second at the median), the ratio of the medians and the
 * paired speed-up (the median over rounds of the median ratio of paired runs, with its range); then the
 * file sizes and the verified accuracies from each run directory's {@code verification.csv}. Last,
 * ONNX Runtime's own per-node profile of each model at batch 256, which shows where time goes.
 */
public final class StructuredLatencyBenchmark {
  private static final int ROUNDS = 7;
  private static final long[] ROW = {1, 8, 8};

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
      try (OrtSession.SessionOptions options = LatencyProbe.options(level)) {
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
    profile(env, dense);
    for (int r = 1; r < args.length; r++) {
      profile(env, Path.of(args[r]).resolve("model/pruned.onnx"));
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
    try (OnnxTensor input = LatencyProbe.input(env, batch, ROW)) {
      LatencyProbe.Comparison c = LatencyProbe.compare(dense, pruned, input, iterations, ROUNDS,
          (r, d, p) -> System.out.printf("batch %d round %d: dense %.1f us, pruned %.1f us%n", batch, r, d / 1e3,
              p / 1e3));
      double dm = c.denseNanos();
      double pm = c.candidateNanos();
      System.out.printf("batch %d, %d paired runs x %d rounds: dense median %.1f us [%.1f-%.1f], %.0f rows/s; "
          + "pruned median %.1f us [%.1f-%.1f], %.0f rows/s; ratio of medians %.2fx; "
          + "paired speed-up %.2fx [%.2f-%.2f]%n", batch, iterations, ROUNDS,
          dm / 1e3, min(c.dense()) / 1e3, max(c.dense()) / 1e3, batch / (dm / 1e9),
          pm / 1e3, min(c.candidate()) / 1e3, max(c.candidate()) / 1e3, batch / (pm / 1e9), dm / pm, c.speedup(),
          1 / max(c.ratios()), 1 / min(c.ratios()));
    }
  }

  /**
   * ONNX Runtime's own profile of batch-256 runs at full optimisation: per node of the optimised
   * graph (a {@code _nchwc} name means the blocked-channel layout), the median kernel time.
   */
  private static void profile(OrtEnvironment env, Path model) throws Exception {
    Path dir = Files.createTempDirectory("lopper-profile");
    String file;
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      options.setInterOpNumThreads(1);
      options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      options.enableProfiling(dir.resolve("profile").toString());
      try (OrtSession session = env.createSession(model.toString(), options)) {
        try (OnnxTensor input = LatencyProbe.input(env, 256, ROW)) {
          LatencyProbe.runs(session, Map.of(session.getInputNames().iterator().next(), input), 500);
        }
        file = session.endProfiling();
      }
    }
    Map<String, List<Double>> byNode = new java.util.LinkedHashMap<>();
    for (JsonNode event : new ObjectMapper().readTree(Path.of(file).toFile())) {
      String name = event.path("name").asText();
      if (event.path("cat").asText().equals("Node") && name.endsWith("_kernel_time")) {
        String node = event.path("args").path("op_name").asText() + " " + name.substring(0, name.length() - 12);
        byNode.computeIfAbsent(node, k -> new java.util.ArrayList<>()).add(event.path("dur").asDouble());
      }
    }
    StringBuilder line = new StringBuilder("profile, batch 256, " + model + ":");
    double total = 0;
    for (Map.Entry<String, List<Double>> e : byNode.entrySet()) {
      List<Double> times = e.getValue();
      double m = LatencyProbe.median(times.subList(times.size() / 5, times.size()).stream().mapToDouble(Double::doubleValue).toArray());
      total += m;
      line.append(String.format(" %s %.0f us;", e.getKey(), m));
    }
    System.out.println(line.append(String.format(" sum %.0f us", total)));
    Files.deleteIfExists(Path.of(file));
    Files.deleteIfExists(dir);
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
