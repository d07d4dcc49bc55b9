package dev.lopper.eval;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import onnx.Onnx;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.nd4j.shade.protobuf.ByteString;

/**
 * Times a sensitivity sweep with and without prefix reuse on a synthetic MLP; not a test (run by
 * hand, with the class path in the CLASSPATH variable, never a long {@code -cp}):
 * {@code java dev.lopper.eval.PrefixReuseBenchmark [layers width samples batch repeats]},
 * defaults 6 1024 4096 256 2.
 *
 * <p>The model: {@code layers} Gemm layers (PyTorch Linear, transB=1) with Relu between them,
 * {@code width} inputs and hidden units, 10 outputs, weights uniform in ±1/sqrt(fan-in) from a
 * fixed seed; the data: Gaussian features and random labels. The sweep: every weight at the
 * sparsities 0.1 … 0.9 with the magnitude criterion, one intra-op thread. It prints wall and
 * process CPU time of each mode (no reuse; reuse with a prefix run per tensor; reuse with every
 * cut held from the dense pass), checks that all give equal tallies, then times the parts.
 */
public final class PrefixReuseBenchmark {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  private static final int CLASSES = 10;

  private PrefixReuseBenchmark() {}

  public static void main(String[] args) throws IOException {
    int layers = args.length > 0 ? Integer.parseInt(args[0]) : 6;
    int width = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
    int samples = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
    int batchRows = args.length > 3 ? Integer.parseInt(args[3]) : 256;
    int repeats = args.length > 4 ? Integer.parseInt(args[4]) : 2;
    Path dir = Files.createTempDirectory("lopper-prefix-bench");
    Path file = dir.resolve("mlp.onnx");
    Files.write(file, mlp(layers, width).toByteArray());
    OnnxModel model = OnnxModel.load(ModelSource.onnx(file.toString()), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    System.out.printf("MLP %d x %d, %d samples in batches of %d, %d tensors x %d sparsities%n",
        layers, width, samples, batchRows, tensors.size(), GRID.length);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = batches(width, samples, batchRows, allocator);
      try {
        List<String> names = tensors.stream().map(PrunableTensor::name).toList();
        for (int r = 0; r < repeats; r++) {
          List<Tally[]> reference = null;
          for (String mode : List.of("without reuse", "reuse, prefix per tensor", "reuse, cuts from the dense pass")) {
            long[] c0 = clocks();
            TensorSweep sweep = switch (mode) {
              case "without reuse" -> new TensorSweep(evaluator, batches, CLASSES, TensorSweep.Options.fullEvaluation());
              case "reuse, prefix per tensor" -> new TensorSweep(evaluator, batches, CLASSES);
              default -> new TensorSweep(evaluator, batches, CLASSES, names, TensorSweep.Options.defaults());
            };
            long[] c1 = clocks();
            List<Tally[]> tallies = new ArrayList<>();
            for (PrunableTensor t : tensors) {
              tallies.add(sweep.sweep(model.weight(t.name()), magnitude, GRID, context));
            }
            long[] c2 = clocks();
            boolean equal = true;
            if (reference == null) {
              reference = tallies;
            } else {
              for (int i = 0; i < tensors.size(); i++) {
                equal &= Arrays.equals(reference.get(i), tallies.get(i));
              }
            }
            System.out.printf("run %d, %s: dense pass %s (%d MiB held), sweep %s, total %s;"
                + " tallies equal to the full evaluation's: %b%n", r + 1, mode, span(c0, c1),
                sweep.heldBytes() >> 20, span(c1, c2), span(c0, c2), equal);
          }
        }
        parts(evaluator, model, tensors, batches);
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  /** Where the time of a reused sweep goes: prefixes, suffix session builds, one suffix pass. */
  private static void parts(Evaluator evaluator, OnnxModel model, List<PrunableTensor> tensors,
      List<Batch> batches) {
    long prefixCpu = 0;
    int builds = 10;
    for (PrunableTensor t : tensors) {
      try (PreparedCut cut = evaluator.cut(GraphCut.of(model, Set.of(t.name())))) {
        long[] a = clocks();
        List<CutActivations> activations = new ArrayList<>();
        batches.forEach(b -> activations.add(cut.activations(b)));
        long[] b = clocks();
        long held = activations.stream().mapToLong(CutActivations::bytes).sum();
        for (int i = 0; i < builds; i++) {
          cut.variant(Map.of()).close();
        }
        long[] c = clocks();
        try (VariantSession s = cut.variant(Map.of())) {
          activations.forEach(s::logits);
        }
        long[] d = clocks();
        activations.forEach(CutActivations::close);
        prefixCpu += b[1] - a[1];
        System.out.printf("  %s: prefix of all batches %s, %d MiB held; suffix session build"
            + " %.1f ms CPU; suffix pass %s%n", t.name(), span(a, b), held >> 20,
            (c[1] - b[1]) / 1e6 / builds, span(c, d));
      }
    }
    long[] a = clocks();
    try (VariantSession s = evaluator.dense()) {
      batches.forEach(s::logits);
    }
    long[] b = clocks();
    for (int i = 0; i < builds; i++) {
      evaluator.dense().close();
    }
    long[] c = clocks();
    System.out.printf("  all prefixes %.2f s CPU; one dense pass %s; whole-model session build"
        + " %.1f ms CPU%n", prefixCpu / 1e9, span(a, b), (c[1] - b[1]) / 1e6 / builds);
  }

  /** Wall and process CPU time, in nanoseconds. */
  private static long[] clocks() {
    return new long[] {System.nanoTime(), ((com.sun.management.OperatingSystemMXBean)
        ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime()};
  }

  private static String span(long[] from, long[] to) {
    return String.format("%.2f s (CPU %.2f s)", (to[0] - from[0]) / 1e9, (to[1] - from[1]) / 1e9);
  }

  static Onnx.ModelProto mlp(int layers, int width) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("bench-mlp");
    g.addInput(value("input", width));
    g.addOutput(value("logits", CLASSES));
    SplittableRandom random = new SplittableRandom(42);
    String x = "input";
    for (int l = 1; l <= layers; l++) {
      int out = l == layers ? CLASSES : width;
      String name = "fc" + l;
      double bound = 1 / Math.sqrt(width);
      g.addInitializer(tensor(name + ".weight", random, bound, out, width));
      g.addInitializer(tensor(name + ".bias", random, bound, out));
      String y = l == layers ? "logits" : "/" + name + "/Gemm_output_0";
      g.addNode(Onnx.NodeProto.newBuilder().setOpType("Gemm").setName("/" + name + "/Gemm")
          .addInput(x).addInput(name + ".weight").addInput(name + ".bias").addOutput(y)
          .addAttribute(Onnx.AttributeProto.newBuilder().setName("transB")
              .setType(Onnx.AttributeProto.AttributeType.INT).setI(1)));
      if (l < layers) {
        String relu = "/Relu_" + l + "_output_0";
        g.addNode(Onnx.NodeProto.newBuilder().setOpType("Relu").setName("/Relu_" + l)
            .addInput(y).addOutput(relu));
        x = relu;
      }
    }
    return Onnx.ModelProto.newBuilder().setIrVersion(7).setProducerName("lopper-benchmark")
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
        .setGraph(g).build();
  }

  private static Onnx.ValueInfoProto value(String name, long dim) {
    return Onnx.ValueInfoProto.newBuilder().setName(name)
        .setType(Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
            .setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE)
            .setShape(Onnx.TensorShapeProto.newBuilder()
                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(dim)))))
        .build();
  }

  private static Onnx.TensorProto tensor(String name, SplittableRandom random, double bound,
      long... dims) {
    int count = (int) Arrays.stream(dims).reduce(1, (p, d) -> p * d);
    ByteBuffer b = ByteBuffer.allocate(count * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < count; i++) {
      b.putFloat((float) random.nextDouble(-bound, bound));
    }
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name)
        .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(b.array()));
    Arrays.stream(dims).forEach(t::addDims);
    return t.build();
  }

  private static List<Batch> batches(int width, int samples, int batchRows, BufferAllocator allocator) {
    SplittableRandom random = new SplittableRandom(7);
    List<Batch> out = new ArrayList<>();
    float[] row = new float[width];
    for (int start = 0; start < samples; start += batchRows) {
      int n = Math.min(batchRows, samples - start);
      try (BatchBuilder b = new BatchBuilder(new long[] {width}, n, true, allocator)) {
        for (int r = 0; r < n; r++) {
          for (int i = 0; i < width; i++) {
            row[i] = (float) (random.nextDouble() * 2 - 1);
          }
          b.add(row, random.nextInt(CLASSES));
        }
        out.add(b.build());
      }
    }
    return out;
  }
}
