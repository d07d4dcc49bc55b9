package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.fixtures.SampleData;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.nio.file.Files;
import java.util.Map;
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
        new double[] {0.5, 0.8, 0.6}, 7);
    assertEquals(120, c.denseNanos());
    assertEquals(80, c.candidateNanos());
    assertEquals(0.6, c.ratio());
    assertEquals(1 / 0.6, c.speedup(), 1e-12);
    assertEquals(0.4, c.saving(), 1e-12);
    assertEquals(2.5, LatencyProbe.median(new double[] {4, 1, 3, 2}));
    LatencyProbe.Comparison slower = new LatencyProbe.Comparison(new double[] {100}, new double[] {125},
        new double[] {1.25}, 1);
    assertEquals(-0.25, slower.saving(), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> new LatencyProbe.Comparison(new double[] {1},
        new double[] {1}, new double[0], 1));
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
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> probe.against(new byte[] {1, 2, 3}));
      assertTrue(e.getMessage().startsWith("ONNX Runtime cannot run a candidate model"), e.getMessage());
    }
  }
}
