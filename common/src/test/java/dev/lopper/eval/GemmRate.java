package dev.lopper.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import onnx.Onnx;

/**
 * The rate of ONNX Runtime's float GEMM as the sweep uses it: {@code Gemm(x [rows, width], W
 * [width, width], transB)}, one intra-op thread per session, {@code tasks} sessions running at once
 * (the sweep's tasks on one machine). {@code fed} (the default): W fed as a graph input and no
 * pre-packing, as {@link PreparedCut#fedLogits} runs it for large weights; {@code packed}: W an
 * initializer that ONNX Runtime pre-packs, as the suffix sessions of smaller models run it. Prints
 * the GFLOP/s of one task, the best of five runs each; {@code bench/sweep-vs-pytorch.sh} and {@code
 * bench/lm-sweep-vs-pytorch.sh} divide a variant's suffix FLOPs by it to report the overhead per
 * variant. Not a test (run by hand, class path in CLASSPATH):
 * {@code java dev.lopper.eval.GemmRate 8192 256 2 [fed|packed]}.
 */
public final class GemmRate {
  private GemmRate() {}

  public static void main(String[] args) throws Exception {
    int width = Integer.parseInt(args[0]);
    int rows = Integer.parseInt(args[1]);
    int tasks = Integer.parseInt(args[2]);
    boolean packed = args.length > 3 && args[3].equals("packed");
    if (args.length > 3 && !packed && !args[3].equals("fed")) {
      throw new IllegalArgumentException("the fourth argument is fed or packed, not " + args[3]);
    }
    OrtEnvironment env = OrtRuntime.environment();
    List<Thread> threads = new ArrayList<>();
    double[] best = new double[tasks];
    for (int t = 0; t < tasks; t++) {
      int task = t;
      threads.add(new Thread(() -> best[task] = time(env, width, rows, task, packed)));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    double slowest = Double.MAX_VALUE;
    for (double b : best) {
      slowest = Math.min(slowest, 2.0 * rows * width * (double) width / b / 1e9);
    }
    System.out.printf(Locale.ROOT, "gemm_gflops_per_task=%.1f width=%d rows=%d tasks=%d %s%n", slowest,
        width, rows, tasks, packed ? "packed" : "fed");
  }

  private static double time(OrtEnvironment env, int width, int rows, int seed, boolean packed) {
    SplittableRandom random = new SplittableRandom(seed);
    FloatBuffer w = direct(width * width, random);
    FloatBuffer x = direct(rows * width, random);
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      options.setInterOpNumThreads(1);
      if (!packed) {
        options.addConfigEntry("session.disable_prepacking", "1");
      }
      try (OrtSession session = env.createSession(gemm(width, packed ? w : null), options);
          OnnxTensor wt = OnnxTensor.createTensor(env, w, new long[] {width, width});
          OnnxTensor xt = OnnxTensor.createTensor(env, x, new long[] {rows, width})) {
        Map<String, OnnxTensor> feed = packed ? Map.of("x", xt) : Map.of("x", xt, "w", wt);
        double best = Double.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
          long start = System.nanoTime();
          try (OrtSession.Result r = session.run(feed)) {
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
          }
        }
        return best;
      }
    } catch (OrtException e) {
      throw new IllegalStateException(e);
    }
  }

  private static FloatBuffer direct(int n, SplittableRandom random) {
    FloatBuffer b = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = 0; i < n; i++) {
      b.put(i, (float) random.nextDouble(-1, 1));
    }
    return b;
  }

  /** The Gemm graph: W a graph input, or the initializer {@code packedWeight} when it is given. */
  private static byte[] gemm(int width, FloatBuffer packedWeight) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("gemm");
    g.addInput(value("x", -1, width));
    if (packedWeight == null) {
      g.addInput(value("w", width, width));
    } else {
      ByteBuffer bytes = ByteBuffer.allocate(width * width * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      bytes.asFloatBuffer().put(packedWeight.duplicate());
      g.addInitializer(Onnx.TensorProto.newBuilder().setName("w").addDims(width).addDims(width)
          .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE)
          .setRawData(org.nd4j.shade.protobuf.ByteString.copyFrom(bytes)));
    }
    g.addOutput(value("y", -1, width));
    g.addNode(Onnx.NodeProto.newBuilder().setOpType("Gemm").setName("gemm").addInput("x").addInput("w")
        .addOutput("y").addAttribute(Onnx.AttributeProto.newBuilder().setName("transB")
            .setType(Onnx.AttributeProto.AttributeType.INT).setI(1)));
    return Onnx.ModelProto.newBuilder().setIrVersion(7)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
        .setGraph(g).build().toByteArray();
  }

  private static Onnx.ValueInfoProto value(String name, long... dims) {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    for (long d : dims) {
      shape.addDim(d < 0 ? Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("N")
          : Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder()
        .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE)
            .setShape(shape))).build();
  }
}
