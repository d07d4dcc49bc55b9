package dev.lopper.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.eval.Evaluator;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * Calibration statistics of the sample models against PyTorch's
 * (data/reference/calibration-*.safetensors, made by data/make_calibration_references.py): for
 * every prunable tensor of the digits MLP, the digits CNN (Conv inputs as torch's unfold patches)
 * and the tiny LM, the count, Σx, Σx² and Gram matrix of its consumer's input over the first rows
 * of the validation data, captured by ONNX Runtime in four chunks and merged by {@link TreeSum}
 * (bit for bit the same for three different splits into partials); which tensors share an input is
 * PyTorch's too.
 *
 * <p>Tolerances. The model's own input is the same data on both sides, so its statistics differ
 * only by float64 summation order: 1e-12 of the scale. Inner activations come from float32 forward
 * passes that differ between ONNX Runtime and PyTorch by about 1e-6 of an activation's scale (the
 * CNN's logits by up to 7.7e-6 absolute). An error ε·|x| per element moves Σx<sub>j</sub> by at most
 * ε·Σ|x<sub>j</sub>| ≤ ε·√(n·Σx<sub>j</sub>²), Σx<sub>j</sub>² by 2ε·Σx<sub>j</sub>² and
 * G<sub>ij</sub> by 2ε·√(G<sub>ii</sub>G<sub>jj</sub>) (Cauchy–Schwarz), so each is compared
 * within 1e-5 of that scale: ten times the forward passes' difference, and far above the float32
 * rounding (6e-8) of the stored reference Gram matrices of inner values.
 */
class CalibrationReferenceTest {
  private static final Configuration CONF = new Configuration();
  private static final double EXACT = 1e-12;
  private static final double FORWARD = 1e-5;
  private static final int CHUNKS = 4;

  @Test
  void digitsMlpEqualsTorch() {
    compare("digits-mlp", allocator -> ValidationSet.batches(new long[] {64}, 16, allocator), Map.of("fc1.weight", 64L));
  }

  @Test
  void digitsCnnPatchesEqualTorchUnfold() {
    // conv1: 64 images of 8x8 outputs; conv2 likewise.
    compare("digits-cnn", allocator -> ValidationSet.batches(new long[] {1, 8, 8}, 16, allocator),
        Map.of("conv1.weight", 64L * 64, "conv2.weight", 64L * 64, "fc1.weight", 64L));
  }

  @Test
  void tinyLmEqualsTorch() {
    compare("tiny-lm", CalibrationReferenceTest::tokenChunks, Map.of("lm_head.weight", 8L * 64));
  }

  /** The first 8 rows of tiny-lm-val.parquet, two per batch. */
  private static List<Batch> tokenChunks(BufferAllocator allocator) {
    Table table = ParquetTables.read(SampleData.path("tiny-lm-val.parquet"), CONF);
    int ids = table.indexOf("input_ids");
    List<Batch> out = new ArrayList<>();
    try (SequenceBatchBuilder builder = new SequenceBatchBuilder(
        List.of(new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64)), "input_ids", null, 2,
        allocator)) {
      for (int r = 0; r < 8; r++) {
        builder.add(new long[][] {(long[]) table.rows().get(r).get(ids)}, null);
        if (builder.isFull()) {
          out.add(builder.build());
        }
      }
    }
    return out;
  }

  private static void compare(String name, Function<BufferAllocator, List<Batch>> batches, Map<String, Long> counts) {
    OnnxModel model = ConsumerInputTest.sample(name);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    ConsumerInputs inputs = ConsumerInputs.of(model, tensors);
    Safetensors.File reference = Safetensors.open(
        SampleData.dir().resolve("reference").resolve("calibration-" + name + ".safetensors").toString(), CONF);
    Map<String, String> meta = reference.metadata();

    // Which tensors share an input: PyTorch's (the same tensor object into several modules).
    for (PrunableTensor a : tensors) {
      for (PrunableTensor b : tensors) {
        boolean torch = meta.get("input:" + a.name()).equals(meta.get("input:" + b.name()));
        boolean lopper = inputs.byTensor().get(a.name()).key().equals(inputs.byTensor().get(b.name()).key());
        assertEquals(torch, lopper, a.name() + " and " + b.name() + " share an input");
      }
    }

    List<ChunkStatistics> chunks = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of())) {
      List<Batch> list = batches.apply(allocator);
      try {
        assertTrue(list.size() >= CHUNKS);
        for (Batch batch : list.subList(0, CHUNKS)) {
          chunks.add(ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(), GramOptions.defaults()));
        }
      } finally {
        list.forEach(Batch::close);
      }
    }
    ChunkStatistics total = merged(chunks, 2);
    assertEquals(total, merged(chunks, 1), "partials [0] + [1, 2, 3] against [0, 1] + [2, 3]");
    assertEquals(total, merged(chunks, 3), "partials [0, 1, 2] + [3]");

    Map<String, InputStatistics> byTensor = inputs.byTensor(total);
    double[] worstOf = new double[2]; // the model's input, inner values
    for (PrunableTensor t : tensors) {
      String first = meta.get("input:" + t.name());
      InputStatistics s = byTensor.get(t.name());
      assertEquals(Long.parseLong(meta.get("count:" + first)), s.count(), t.name() + ": count");
      if (counts.containsKey(t.name())) {
        assertEquals(counts.get(t.name()), s.count(), t.name() + ": count");
      }
      boolean exact = meta.get("dtype:" + first + ".gram").equals("F64");
      double tolerance = exact ? EXACT : FORWARD;
      double worst = 0;
      double[] sums = doubles(reference, first + ".sum");
      double[] squares = doubles(reference, first + ".sumsq");
      double[] upper = doubles(reference, first + ".gram");
      int d = s.dim();
      assertEquals(d, sums.length, t.name() + ": channels");
      assertEquals((long) d * (d + 1) / 2, upper.length, t.name() + ": Gram entries");
      for (int j = 0; j < d; j++) {
        worst = Math.max(worst, check(sums[j], s.sums()[j], Math.sqrt(s.count() * squares[j]), tolerance,
            t.name() + " Σx[" + j + "]"));
        worst = Math.max(worst, check(squares[j], s.sumSquares()[j], squares[j], tolerance, t.name() + " Σx²[" + j + "]"));
      }
      int k = 0;
      for (int i = 0; i < d; i++) {
        for (int j = i; j < d; j++, k++) {
          double scale = Math.sqrt(squares[i] * squares[j]);
          worst = Math.max(worst, check(upper[k], s.gram()[i * d + j], scale, tolerance,
              t.name() + " G[" + i + "," + j + "]"));
          assertEquals(s.gram()[i * d + j], s.gram()[j * d + i], t.name() + ": symmetric");
        }
      }
      worstOf[exact ? 0 : 1] = Math.max(worstOf[exact ? 0 : 1], worst);
    }
    System.out.printf("%s: largest difference from PyTorch, in units of its scale: %.2e on the model's input,"
        + " %.2e on inner values%n", name, worstOf[0], worstOf[1]);
  }

  /** Checks |expected − actual| ≤ tolerance · scale and returns the difference in units of scale. */
  private static double check(double expected, double actual, double scale, double tolerance, String what) {
    double difference = Math.abs(expected - actual) / Math.max(scale, Double.MIN_NORMAL);
    assertTrue(difference <= tolerance || expected == actual, what + ": Lopper " + actual + ", PyTorch " + expected
        + " (difference " + difference + " of scale " + scale + ")");
    return difference;
  }

  /** Merges the chunks as two partials, [0, cut) and [cut, C). */
  private static ChunkStatistics merged(List<ChunkStatistics> chunks, int cut) {
    TreeSum<ChunkStatistics> first = new TreeSum<>(ChunkStatistics::plus);
    TreeSum<ChunkStatistics> second = new TreeSum<>(ChunkStatistics::plus);
    for (int c = 0; c < chunks.size(); c++) {
      (c < cut ? first : second).add(c, chunks.get(c));
    }
    List<TreeSum.Node<ChunkStatistics>> nodes = new ArrayList<>(second.nodes());
    nodes.addAll(first.nodes());
    return TreeSum.merge(nodes, chunks.size(), ChunkStatistics::plus);
  }

  private static double[] doubles(Safetensors.File file, String name) {
    Safetensors.Entry entry = file.entries().get(name);
    ByteBuffer raw = file.readBytes(entry);
    int count = Math.toIntExact(entry.elementCount());
    double[] out = new double[count];
    for (int i = 0; i < count; i++) {
      out[i] = entry.dtype().equals("F64") ? raw.getDouble(i * 8) : raw.getFloat(i * 4);
    }
    return out;
  }
}
