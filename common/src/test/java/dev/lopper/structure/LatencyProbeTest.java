package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.fixtures.SampleData;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import ai.onnxruntime.OnnxTensor;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.model.ModelInputs;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * The latency probe's arithmetic on round medians written out by hand, and that it opens and runs
 * what the pipeline hands it (in-memory ONNX bytes of shrunk models). Times themselves are not
 * asserted: they belong to the benchmark.
 */
class LatencyProbeTest {
  private static final Configuration CONF = new Configuration();

  @Test
  void comparesTheMediansOfTheRoundMediansAndOfThePairedRatios() {
    // Round medians (ns): dense 100, 140, 120 -> 120; candidate 60, 90, 80 -> 80; paired ratios
    // 0.5, 0.8, 0.6 -> 0.6 (the speed-up comes from the pairs, not from 80 / 120).
    LatencyProbe.Comparison c = new LatencyProbe.Comparison(new double[] {100, 140, 120}, new double[] {60, 90, 80},
        new double[] {0.5, 0.8, 0.6}, 1, new double[] {0.5, 0.8, 0.6});
    assertEquals(120, c.denseNanos());
    assertEquals(80, c.candidateNanos());
    assertEquals(0.6, c.ratio());
    assertEquals(1 / 0.6, c.speedup(), 1e-12);
    assertEquals(0.4, c.saving(), 1e-12);
    assertEquals(2.5, LatencyProbe.median(new double[] {4, 1, 3, 2}));
    LatencyProbe.Comparison slower = new LatencyProbe.Comparison(new double[] {100}, new double[] {125},
        new double[] {1.25}, 1, new double[] {1.25});
    assertEquals(-0.25, slower.saving(), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> new LatencyProbe.Comparison(new double[] {1},
        new double[] {1}, new double[0], 1, new double[] {1}));
    // 2 runs a round and 3 rounds need 6 paired ratios
    assertThrows(IllegalArgumentException.class, () -> new LatencyProbe.Comparison(new double[] {1, 1, 1},
        new double[] {1, 1, 1}, new double[] {1, 1, 1}, 2, new double[5]));
  }

  @Test
  void theRatiosStandardErrorComesFromThePairsSpread() {
    // Pairs 0.60 0.62 0.58 0.70 0.64 0.55 0.61 0.66 0.59: median 0.61; absolute deviations
    // 0.01 0.01 0.03 0.09 0.03 0.06 0 0.05 0.02 -> median 0.03; sigma = 1.4826 * 0.03, the
    // median's error 1.2533 * sigma / sqrt(9) = 0.018582... The round medians 0.60 0.64 0.61
    // (sd 0.0208) give 1.2533 * 0.0208 / sqrt(3) = 0.0151, less: the pairs' error stands.
    double[] pairs = {0.60, 0.62, 0.58, 0.70, 0.64, 0.55, 0.61, 0.66, 0.59};
    LatencyProbe.Comparison c = new LatencyProbe.Comparison(new double[] {100, 100, 100}, new double[] {61, 60, 61},
        new double[] {0.60, 0.64, 0.61}, 3, pairs);
    assertEquals(0.61, c.ratio(), 1e-12);
    double error = 1.2533 * 1.4826 * 0.03 / 3;
    assertEquals(error, c.ratioError(), 1e-12);
    assertEquals(error / (0.61 * 0.61), c.speedupError(), 1e-12);
    // The bar 1/1.5 = 0.6667 lies 0.0567 above the ratio: 3.05 errors, decided at z = 2, not at z = 4.
    assertTrue(c.decides(1.5, 2));
    assertTrue(!c.decides(1.5, 4));
    // 1/1.6 = 0.625 lies 0.8 errors above: undecided.
    assertTrue(!c.decides(1.6, 2));
    // Rounds that disagree more than their pairs: round medians 0.55, 0.61, 0.67 (sd 0.06) over the
    // same pairs' spread: 1.2533 * 0.06 / sqrt(3) = 0.043415... is the error.
    LatencyProbe.Comparison drifting = new LatencyProbe.Comparison(new double[] {100, 100, 100},
        new double[] {55, 61, 67}, new double[] {0.55, 0.61, 0.67}, 3, pairs);
    assertEquals(1.2533 * 0.06 / Math.sqrt(3), drifting.ratioError(), 1e-12);
    assertTrue(!drifting.decides(1.5, 2), "0.0567 from the bar is 1.3 errors");
    // One pair: no error, never decided.
    LatencyProbe.Comparison one = new LatencyProbe.Comparison(new double[] {100}, new double[] {10},
        new double[] {0.1}, 1, new double[] {0.1});
    assertTrue(Double.isNaN(one.ratioError()));
    assertTrue(!one.decides(1.5, 2));
  }

  @Test
  void timesShrunkModelsFromMemoryAgainstTheDenseOne() throws Exception {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), CONF);
    ModelStructure structure = ModelStructure.analyse(model);
    ShrunkModel dense = ModelShrinker.shrink(structure, ChannelSelection.none());
    ChannelGroup conv1 = structure.prunableGroups().get(0);
    ShrunkModel half = ModelShrinker.shrink(structure,
        ChannelCriterion.l1().selection(structure.groups(), Map.of(conv1.id(), 0.5), model.weights()));
    // The in-memory bytes are the file the shrunk model writes.
    // In a directory of its own: the Hadoop local file system writes a .crc file beside it.
    java.nio.file.Path dir = Files.createTempDirectory("lopper-probe");
    java.nio.file.Path file = dir.resolve("half.onnx");
    try {
      half.writeOnnx(file.toString(), CONF);
      assertArrayEquals(Files.readAllBytes(file), half.onnxBytes());
    } finally {
      try (java.util.stream.Stream<java.nio.file.Path> files = Files.list(dir)) {
        for (java.nio.file.Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
    LatencyProbe.Budget budget = new LatencyProbe.Budget(3, 1_000_000L, 4);
    try (LatencyProbe probe = LatencyProbe.open(dense.onnxBytes(), new long[] {1, 8, 8}, 16, budget)) {
      assertTrue(probe.runsPerRound() >= 4);
      LatencyProbe.Comparison c = probe.against(half.onnxBytes());
      assertEquals(3, c.dense().length);
      assertEquals(3, c.candidate().length);
      assertTrue(c.denseNanos() > 0 && c.candidateNanos() > 0, c.toString());
      assertEquals(5, probe.against(half.onnxBytes(), budget.timesRounds(2)).dense().length - 1);
      // Rounds that may take 1 ns of dense runs together: one round, however many were asked for.
      assertEquals(1, probe.against(half.onnxBytes(), new LatencyProbe.Budget(3, 1_000_000L, 4, 1)).dense().length);
      // Between start's and most's rounds, one round at a time until decided: a bar of 1000x is
      // decided in start's rounds; most's rounds cap a comparison that never decides.
      LatencyProbe.Comparison far = probe.against(half.onnxBytes(), budget, budget.timesRounds(2), 1000);
      assertEquals(3, far.dense().length, far.toString());
      assertEquals(3 * probe.runsPerRound(), far.pairs().length);
      LatencyProbe.Comparison capped = probe.against(half.onnxBytes(), new LatencyProbe.Budget(1, 1_000_000L, 4),
          budget, Double.NaN);
      assertEquals(3, capped.dense().length, capped.toString());
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> probe.against(new byte[] {1, 2, 3}));
      assertTrue(e.getMessage().startsWith("ONNX Runtime cannot run a candidate model"), e.getMessage());
    }
  }

  @Test
  void aSlowModelIsTimedInFewerRounds() {
    LatencyProbe.Budget b = LatencyProbe.Budget.DEFAULT;
    assertEquals(5, b.roundsFor(40, 1e6)); // 1 ms runs, 40 a round: 5 rounds
    assertEquals(5, b.roundsFor(5, 1.2e9)); // 1.2 s runs: 5 rounds of 6 s fill the 30 s
    assertEquals(3, b.roundsFor(5, 2e9 - 1)); // 3 rounds of just under 10 s
    assertEquals(2, b.roundsFor(5, 2.2e9)); // MiniLM at 32 x 128 tokens: 2 rounds of 11 s
    assertEquals(5, b.timesRounds(2).roundsFor(5, 2.2e9)); // twice the time: 60 s hold 5 such rounds
    assertEquals(1, b.roundsFor(5, 1e11)); // at least one
    assertEquals(3, new LatencyProbe.Budget(3, 1, 4).roundsFor(4, 1e12)); // no limit
    assertEquals(Long.MAX_VALUE, new LatencyProbe.Budget(3, 1, 4).timesRounds(2).maxNanos());
  }

  @Test
  void feedsTokenModelsIdsBelowTheVocabularyAMaskOfOnesAndZeroTokenTypes() throws Exception {
    // MiniLM's three int64 inputs; its word table has 30 522 rows, its token-type table 2.
    ModelInputs inputs = ModelInputs.of(TransformerModels.miniLm());
    assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), inputs.names());
    Map<String, OnnxTensor> feed = LatencyProbe.tokenFeed(OrtRuntime.environment(), inputs, 3, 5);
    try {
      assertEquals(inputs.names(), List.copyOf(feed.keySet()));
      for (OnnxTensor t : feed.values()) {
        assertArrayEquals(new long[] {3, 5}, t.getInfo().getShape());
      }
      long[] ids = values(feed.get("input_ids"));
      assertTrue(IntStream.range(0, ids.length).allMatch(i -> ids[i] >= 0 && ids[i] < 30_522));
      assertTrue(IntStream.range(0, ids.length).mapToLong(i -> ids[i]).distinct().count() > 10, "random ids");
      assertTrue(java.util.Arrays.stream(values(feed.get("attention_mask"))).allMatch(v -> v == 1));
      assertTrue(java.util.Arrays.stream(values(feed.get("token_type_ids"))).allMatch(v -> v == 0));
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  @Test
  void timesTheSampleLmAgainstAShrunkCopyOnTokenRows() throws Exception {
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    ShrunkModel dense = ModelShrinker.shrink(lm, ChannelSelection.none());
    // One of 4 heads and 32 of 256 neurons kept in both blocks: the blocks' MatMuls shrink to an
    // eighth (heads a quarter), so at 8 rows x 64 tokens (its position table's 64 rows) the copy must run clearly faster.
    Map<Integer, int[]> kept = new LinkedHashMap<>();
    for (int b = 0; b < 2; b++) {
      kept.put(lm.group("blocks." + b + ".attn.q_proj.weight+blocks." + b + ".attn.k_proj.weight+blocks." + b
          + ".attn.v_proj.weight").orElseThrow().id(), new int[] {0});
      kept.put(lm.group("blocks." + b + ".mlp.up.weight").orElseThrow().id(), IntStream.range(0, 32).toArray());
    }
    ShrunkModel small = ModelShrinker.shrink(lm, ChannelSelection.of(kept));
    LatencyProbe.Budget budget = new LatencyProbe.Budget(3, 20_000_000L, 4);
    ModelInputs inputs = ModelInputs.of(TransformerModels.tinyLm());
    try (LatencyProbe probe = LatencyProbe.open(dense.onnxBytes(),
        LatencyProbe.tokenFeed(OrtRuntime.environment(), inputs, 8, 64), budget)) {
      LatencyProbe.Comparison same = probe.against(dense.onnxBytes());
      LatencyProbe.Comparison c = probe.against(small.onnxBytes());
      assertEquals(3, c.ratios().length);
      // Paired ratios: the dense model against itself is near 1 however loaded the machine is.
      assertEquals(1.0, same.ratio(), 0.25, same.toString());
      assertTrue(c.speedup() > 1.2, c.toString());
    }
  }

  private static long[] values(OnnxTensor t) {
    LongBuffer b = t.getLongBuffer();
    long[] v = new long[b.remaining()];
    b.get(v);
    return v;
  }
}
