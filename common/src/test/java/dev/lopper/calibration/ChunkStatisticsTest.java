package dev.lopper.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.ConsumerInput.Layout;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ChunkStatistics} and its samples: im2col patches equal torch's unfold (asymmetric pads,
 * strides, dilations, SAME and VALID auto_pad; data/reference/calibration-im2col.csv), padding
 * positions of token batches are left out, the Java and BLAS Gram matrices agree within rounding
 * and repeat bit for bit, and chunks merged by {@link TreeSum} give the same bits for any split.
 */
class ChunkStatisticsTest {
  private static final GramOptions JAVA = GramOptions.of(GramOptions.Engine.JAVA);
  private static final GramOptions BLAS = GramOptions.of(GramOptions.Engine.BLAS);

  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  /** A label-free feature batch of {@code rows} rows of {@code rowShape}, all zeros (only its shape matters). */
  private Batch features(int rows, long... rowShape) {
    try (BatchBuilder builder = new BatchBuilder(rowShape, rows, false, allocator)) {
      for (int r = 0; r < rows; r++) {
        builder.add(new float[(int) WeightTensor.elementCount(rowShape)]);
      }
      return builder.build();
    }
  }

  private static CapturedValue value(String name, float[] data, long... shape) {
    FloatBuffer buffer = WeightTensor.allocate(data.length);
    buffer.put(data).flip();
    return new CapturedValue(name, shape, buffer);
  }

  private static float[] random(int n, long seed) {
    Random random = new Random(seed);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) random.nextGaussian();
    }
    return out;
  }

  @Test
  void patchesAreTorchUnfoldsForEveryGeometry() {
    float[] x = new float[2 * 2 * 5 * 6];
    for (int i = 0; i < x.length; i++) {
      x[i] = i - 17;
    }
    List<Map<String, String>> cases = ReferenceCsv.read("calibration-im2col.csv");
    assertEquals(5, cases.size());
    try (Batch batch = features(2, 2, 5, 6)) {
      for (Map<String, String> c : cases) {
        ConsumerInput.Patches p = new ConsumerInput.Patches(i(c, "kernel_h"), i(c, "kernel_w"), i(c, "stride_h"),
            i(c, "stride_w"), i(c, "dilation_h"), i(c, "dilation_w"), i(c, "pad_top"), i(c, "pad_left"),
            i(c, "pad_bottom"), i(c, "pad_right"), ConsumerInput.AutoPad.valueOf(c.get("auto_pad")));
        ConsumerInput input = new ConsumerInput("x", Layout.PATCHES, i(c, "dim"), p);
        Samples samples = Samples.of(input, batch, value("x", x, 2, 2, 5, 6));
        assertEquals(i(c, "samples"), samples.count(), c.get("name"));
        double[] out = new double[samples.count() * samples.dim()];
        samples.fill(0, samples.count(), out);
        double[] expected = Arrays.stream(c.get("values").split(" ")).mapToDouble(Double::parseDouble)
            .toArray();
        assertArrayEquals(expected, out, c.get("name"));
        // Block by block gives the same samples.
        double[] tail = new double[7 * samples.dim()];
        samples.fill(samples.count() - 7, 7, tail);
        assertArrayEquals(Arrays.copyOfRange(expected, expected.length - tail.length, expected.length), tail);
      }
    }
  }

  private static int i(Map<String, String> row, String column) {
    return Integer.parseInt(row.get(column));
  }

  /** Three rows of 5 positions: lengths 5 and 3, and a row of 4 whose position 1 is masked out. */
  private Batch padded() {
    try (SequenceBatchBuilder builder = new SequenceBatchBuilder(List.of(
        new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64),
        new SequenceBatchBuilder.Input("attention_mask", BatchInput.ElementType.INT64)),
        "input_ids", "attention_mask", 3, allocator)) {
      builder.add(new long[][] {{1, 2, 3, 4, 5}, {1, 1, 1, 1, 1}}, null);
      builder.add(new long[][] {{1, 2, 3}, {1, 1, 1}}, null);
      builder.add(new long[][] {{1, 2, 3, 4}, {1, 0, 1, 1}}, null);
      return builder.build();
    }
  }

  @Test
  void paddingPositionsOfTokenBatchesAreLeftOut() {
    int d = 4;
    try (Batch batch = padded()) {
      assertEquals(5, batch.positions());
      float[] x = random(3 * 5 * d, 1);
      List<float[]> kept = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        for (int t = 0; t < 5; t++) {
          if (batch.counts(r, t)) {
            kept.add(Arrays.copyOfRange(x, (r * 5 + t) * d, (r * 5 + t + 1) * d));
          } else {
            Arrays.fill(x, (r * 5 + t) * d, (r * 5 + t + 1) * d, 1e30f); // would dominate every sum
          }
        }
      }
      assertEquals(5 + 3 + 3, kept.size());
      InputStatistics expected = naive(kept, d);
      ConsumerInput input = new ConsumerInput("h", Layout.ROWS, d, null);
      InputStatistics byPosition = ChunkStatistics.of(input, batch, value("h", x, 3, 5, d), JAVA);
      assertEquals(expected, byPosition);
      // The same value flattened to [rows * positions, d], as some exports reshape it.
      assertEquals(expected, ChunkStatistics.of(input, batch, value("h", x, 15, d), JAVA));
      // Values whose padding cannot be told apart are refused, naming the value.
      String message = assertThrows(InvalidInputException.class, () -> ChunkStatistics.of(
          new ConsumerInput("h", Layout.COLUMNS, 5, null), batch, value("h", x, 3, 5, d), JAVA)).getMessage();
      assertTrue(message.startsWith("value h [3, 5, 4]") && message.contains("padding"), message);
      assertThrows(InvalidInputException.class, () -> ChunkStatistics.of(
          new ConsumerInput("pooled", Layout.ROWS, 20, null), batch, value("pooled", x, 3, 20), JAVA));
    }
  }

  /** Σx, Σx² and XᵀX summed in sample order by the plainest loops. */
  private static InputStatistics naive(List<float[]> samples, int d) {
    double[] sums = new double[d];
    double[] squares = new double[d];
    double[] gram = new double[d * d];
    for (float[] s : samples) {
      for (int i = 0; i < d; i++) {
        sums[i] += s[i];
        squares[i] += (double) s[i] * s[i];
        for (int j = 0; j < d; j++) {
          gram[i * d + j] += (double) s[i] * s[j];
        }
      }
    }
    return new InputStatistics(d, samples.size(), sums, squares, gram);
  }

  @Test
  void columnsAreSamplesWhenTheConsumerTransposesItsInput() {
    int d = 3;
    float[] rows = random(8 * d, 2); // [8, 3]
    float[] columns = new float[rows.length]; // its transpose [3, 8]
    for (int s = 0; s < 8; s++) {
      for (int j = 0; j < d; j++) {
        columns[j * 8 + s] = rows[s * d + j];
      }
    }
    try (Batch batch = features(8, 3)) {
      InputStatistics expected = ChunkStatistics.of(new ConsumerInput("x", Layout.ROWS, d, null), batch,
          value("x", rows, 8, d), JAVA);
      assertEquals(expected, ChunkStatistics.of(new ConsumerInput("xt", Layout.COLUMNS, d, null), batch,
          value("xt", columns, d, 8), JAVA));
      List<float[]> samples = new ArrayList<>();
      for (int s = 0; s < 8; s++) {
        samples.add(Arrays.copyOfRange(rows, s * d, (s + 1) * d));
      }
      assertEquals(naive(samples, d), expected);
    }
  }

  @Test
  void mirrorCopiesTheUpperTriangleAtEverySize() {
    for (int d : new int[] {1, 2, 63, 64, 65, 129, 200}) {
      double[] g = new double[d * d];
      double[] expected = new double[d * d];
      Random random = new Random(d);
      for (int i = 0; i < d; i++) {
        for (int j = i; j < d; j++) {
          double v = random.nextGaussian();
          g[i * d + j] = v;
          expected[i * d + j] = v;
          expected[j * d + i] = v;
        }
      }
      Gram.mirror(g, d);
      assertArrayEquals(expected, g, "d = " + d);
    }
  }

  @Test
  void javaGramSumsInSampleOrderAndBlasAgreesWithinRounding() {
    int d = 80;
    int n = 2500; // three blocks of samples
    float[] x = random(n * d, 3);
    for (int i = 0; i < x.length; i += 7) {
      x[i] *= 1000; // some large entries, so that the order of the sums shows
    }
    try (Batch batch = features(n, d)) {
      ConsumerInput input = new ConsumerInput("x", Layout.ROWS, d, null);
      CapturedValue value = value("x", x, n, d);
      InputStatistics java = ChunkStatistics.of(input, batch, value, JAVA);
      List<float[]> samples = new ArrayList<>();
      for (int s = 0; s < n; s++) {
        samples.add(Arrays.copyOfRange(x, s * d, (s + 1) * d));
      }
      assertEquals(naive(samples, d), java); // every entry in sample order, whatever the tiling
      for (int j = 0; j < d; j++) {
        assertEquals(java.sumSquares()[j], java.gram()[j * d + j]);
      }
      BLAS.applyThreads();
      InputStatistics blas = ChunkStatistics.of(input, batch, value, BLAS);
      assertEquals(blas, ChunkStatistics.of(input, batch, value, BLAS), "BLAS repeats bit for bit");
      assertArrayEquals(java.sums(), blas.sums());
      assertArrayEquals(java.sumSquares(), blas.sumSquares());
      assertNotEquals(java, blas, "different orders of summation, expected to differ in some bit");
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          double scale = Math.sqrt(java.gram()[i * d + i] * java.gram()[j * d + j]);
          assertEquals(java.gram()[i * d + j], blas.gram()[i * d + j], 1e-13 * scale, i + "," + j);
          assertEquals(blas.gram()[i * d + j], blas.gram()[j * d + i]);
        }
      }
      assertEquals(blas, ChunkStatistics.of(input, batch, value, GramOptions.defaults()), "AUTO takes BLAS at 80");
      assertNull(ChunkStatistics.of(input, batch, value, GramOptions.none()).gram());
    }
  }

  @Test
  void concurrentBlasGramsRepeatBitForBit() throws Exception {
    // Spark runs one task per core in one executor JVM: OpenBLAS is called from several threads.
    int d = 96;
    int n = 1500;
    float[] x = random(n * d, 6);
    try (Batch batch = features(n, d)) {
      ConsumerInput input = new ConsumerInput("x", Layout.ROWS, d, null);
      CapturedValue value = value("x", x, n, d);
      BLAS.applyThreads();
      InputStatistics expected = ChunkStatistics.of(input, batch, value, BLAS);
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        List<java.util.concurrent.Future<InputStatistics>> results = new ArrayList<>();
        for (int k = 0; k < 8; k++) {
          results.add(pool.submit(() -> ChunkStatistics.of(input, batch, value, BLAS)));
        }
        for (java.util.concurrent.Future<InputStatistics> r : results) {
          assertEquals(expected, r.get());
        }
      } finally {
        pool.shutdown();
      }
    }
  }

  @Test
  void chunksMergeToTheWholeWithinRoundingAndByTreeSumExactly() {
    int d = 6;
    int rows = 40;
    float[] x = random(rows * d, 4);
    ConsumerInput input = new ConsumerInput("x", Layout.ROWS, d, null);
    // Four chunks of 10 rows, each a batch of its own.
    List<ChunkStatistics> chunks = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      try (Batch batch = features(10, d)) {
        float[] part = Arrays.copyOfRange(x, c * 10 * d, (c + 1) * 10 * d);
        chunks.add(ChunkStatistics.compute(batch, Map.of("x", value("x", part, 10, d)), List.of(input), JAVA));
      }
    }
    InputStatistics whole;
    try (Batch batch = features(rows, d)) {
      whole = ChunkStatistics.of(input, batch, value("x", x, rows, d), JAVA);
    }
    InputStatistics twoHalves = chunks.get(0).plus(chunks.get(1)).get("x").plus(chunks.get(2).plus(chunks.get(3)).get("x"));
    assertEquals(whole.count(), twoHalves.count());
    for (int i = 0; i < d * d; i++) {
      assertEquals(whole.gram()[i], twoHalves.gram()[i], 1e-14 * Math.abs(whole.gram()[i]) + 1e-14);
    }
    for (int j = 0; j < d; j++) {
      assertEquals(whole.sums()[j], twoHalves.sums()[j], 1e-13);
      assertEquals(whole.sumSquares()[j], twoHalves.sumSquares()[j], 1e-13 * whole.sumSquares()[j]);
    }
    // Partials of [0, 1] and [2, 3], or of [0] and [1, 2, 3], in either order of arrival.
    ChunkStatistics oneTask = TreeSum.sum(chunks, ChunkStatistics::plus);
    assertEquals(oneTask, merge(chunks, 2), "split 0-1 | 2-3");
    assertEquals(oneTask, merge(chunks, 1), "split 0 | 1-3");
    assertEquals(twoHalves, oneTask.get("x"), "the tree over four leaves is (0+1)+(2+3)");
  }

  /** The chunks summed by two partials, [0, cut) and [cut, 4), merged with the second's nodes first. */
  private static ChunkStatistics merge(List<ChunkStatistics> chunks, int cut) {
    TreeSum<ChunkStatistics> first = new TreeSum<>(ChunkStatistics::plus);
    TreeSum<ChunkStatistics> second = new TreeSum<>(ChunkStatistics::plus);
    for (int c = 0; c < chunks.size(); c++) {
      (c < cut ? first : second).add(c, chunks.get(c));
    }
    List<TreeSum.Node<ChunkStatistics>> nodes = new ArrayList<>(second.nodes());
    nodes.addAll(first.nodes());
    return TreeSum.merge(nodes, chunks.size(), ChunkStatistics::plus);
  }

  @Test
  void refusesValuesThatDoNotFitNamingThem() {
    try (Batch batch = features(4, 3)) {
      ConsumerInput input = new ConsumerInput("h", Layout.ROWS, 5, null);
      String channels = assertThrows(InvalidInputException.class,
          () -> ChunkStatistics.of(input, batch, value("h", new float[12], 4, 3), JAVA)).getMessage();
      assertTrue(channels.startsWith("value h [4, 3] (for h, 5 channels)"), channels);
      String rows = assertThrows(InvalidInputException.class,
          () -> ChunkStatistics.of(input, batch, value("h", new float[10], 2, 5), JAVA)).getMessage();
      assertTrue(rows.contains("expected the batch's 4 rows as the first axis"), rows);
      String missing = assertThrows(InvalidInputException.class,
          () -> ChunkStatistics.compute(batch, Map.of(), List.of(input), JAVA)).getMessage();
      assertTrue(missing.startsWith("value h (for h) was not captured"), missing);
      assertFalse(ChunkStatistics.of(input, batch, value("h", new float[20], 4, 5), GramOptions.none()).hasGram());
    }
  }
}
