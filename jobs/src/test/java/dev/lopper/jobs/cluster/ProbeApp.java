package dev.lopper.jobs.cluster;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import onnx.Onnx;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A Spark application that reports, from inside executor JVMs, what cluster tests need to know: that ONNX
 * Runtime and ND4J work there, how long the executor's command line is, and which JVM ran each task.
 *
 * <p>Arguments: {@code <tasks> <sleep-millis> <marker-dir or ->}. Each of {@code tasks} tasks writes
 * {@code p<partition>-a<attempt>-pid<pid>.started} into the marker directory when it starts (so that a test
 * knows when and where tasks run), creates ONNX Runtime's environment and runs a one-node model
 * ({@code y = x + x}), multiplies two 2x2 matrices with ND4J, reads {@code /proc/self/cmdline}, sleeps, and
 * returns what it saw. The driver prints one line per task, tab-separated {@code key=value} fields after
 * {@code PROBE}, then {@code PROBE-DONE}.
 */
public final class ProbeApp {
  /** The input of the one-node ONNX model; the model doubles it. */
  static final float[] ORT_INPUT = {1.5f, -2f, 3f};

  private ProbeApp() {}

  /** What one task saw in its executor JVM. */
  record Probe(int partition, int attempt, String executorId, long pid, long parentPid, int cmdlineBytes,
      String ortVersion, float[] ortOutput, float[] nd4jProduct, String ortJar, String nd4jJar, String commonJar,
      String ompThreads) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The driver's output line: tab-separated {@code key=value} fields after {@code PROBE}. */
    String line() {
      Map<String, Object> fields = new java.util.LinkedHashMap<>();
      fields.put("partition", partition);
      fields.put("attempt", attempt);
      fields.put("executor", executorId);
      fields.put("pid", pid);
      fields.put("ppid", parentPid);
      fields.put("cmdlineBytes", cmdlineBytes);
      fields.put("ortVersion", ortVersion);
      fields.put("ortOutput", join(ortOutput));
      fields.put("nd4jProduct", join(nd4jProduct));
      fields.put("ortJar", ortJar);
      fields.put("nd4jJar", nd4jJar);
      fields.put("commonJar", commonJar);
      fields.put("omp", ompThreads);
      return "PROBE\t" + fields.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
          .collect(Collectors.joining("\t"));
    }
  }

  /** Runs the probe job; see the class description for the arguments. */
  public static void main(String[] args) throws IOException {
    if (args.length != 3) {
      throw new InvalidInputException("ProbeApp expects <tasks> <sleep-millis> <marker-dir or ->, got "
          + Arrays.toString(args));
    }
    int tasks = Integer.parseInt(args[0]);
    long sleepMillis = Long.parseLong(args[1]);
    String markerDir = args[2];
    SparkSession spark = SparkSession.builder().appName("lopper-cluster-probe").getOrCreate();
    try {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      List<Integer> partitions = IntStream.range(0, tasks).boxed().collect(Collectors.toList());
      List<Probe> probes = jsc.parallelize(partitions, tasks).map(p -> probe(sleepMillis, markerDir)).collect();
      System.out.println("DRIVER\tpid=" + ProcessHandle.current().pid() + "\tcmdlineBytes="
          + Files.readAllBytes(Path.of("/proc/self/cmdline")).length);
      for (Probe probe : probes) {
        System.out.println(probe.line());
      }
      System.out.println("PROBE-DONE\ttasks=" + probes.size());
    } finally {
      spark.stop();
    }
  }

  static Probe probe(long sleepMillis, String markerDir) throws IOException, OrtException, InterruptedException {
    TaskContext task = TaskContext.get();
    long pid = ProcessHandle.current().pid();
    if (!"-".equals(markerDir)) {
      Path marker = Path.of(markerDir, "p" + task.partitionId() + "-a" + task.attemptNumber() + "-pid" + pid
          + ".started");
      Files.write(marker, new byte[0]);
    }
    // ONNX Runtime 1.29 crashes right here when the JVM's command line is longer than about 3.9 KB.
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    float[] ortOutput;
    try (OrtSession session = env.createSession(doublingModel());
        OnnxTensor x = OnnxTensor.createTensor(env, ORT_INPUT);
        OrtSession.Result result = session.run(Map.of("x", x))) {
      ortOutput = (float[]) result.get(0).getValue();
    }
    INDArray a = Nd4j.create(new float[] {1, 2, 3, 4}, new long[] {2, 2});
    INDArray b = Nd4j.create(new float[] {5, 6, 7, 8}, new long[] {2, 2});
    float[] product = a.mmul(b).ravel().toFloatVector();
    int cmdlineBytes = Files.readAllBytes(Path.of("/proc/self/cmdline")).length;
    Thread.sleep(sleepMillis);
    return new Probe(task.partitionId(), task.attemptNumber(), SparkEnv.get().executorId(), pid,
        ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L), cmdlineBytes, env.getVersion(),
        ortOutput, product, source(OrtEnvironment.class), source(Nd4j.class), source(InvalidInputException.class),
        String.valueOf(System.getenv("OMP_NUM_THREADS")));
  }

  /** A model with one Add node, {@code y = x + x}, for a float vector of {@link #ORT_INPUT}'s length. */
  static byte[] doublingModel() {
    Onnx.TypeProto vector = Onnx.TypeProto.newBuilder()
        .setTensorType(Onnx.TypeProto.Tensor.newBuilder()
            .setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE)
            .setShape(Onnx.TensorShapeProto.newBuilder()
                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(ORT_INPUT.length))))
        .build();
    Onnx.GraphProto graph = Onnx.GraphProto.newBuilder()
        .setName("doubling")
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Add").addInput("x").addInput("x").addOutput("y"))
        .addInput(Onnx.ValueInfoProto.newBuilder().setName("x").setType(vector))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y").setType(vector))
        .build();
    return Onnx.ModelProto.newBuilder()
        .setIrVersion(8)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
        .setGraph(graph)
        .build()
        .toByteArray();
  }

  private static String source(Class<?> type) {
    java.security.CodeSource source = type.getProtectionDomain().getCodeSource();
    return source == null || source.getLocation() == null ? "unknown" : source.getLocation().toString();
  }

  private static String join(float[] values) {
    List<String> parts = new ArrayList<>();
    for (float v : values) {
      parts.add(Float.toString(v));
    }
    return String.join(",", parts);
  }
}
