package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.Logits;
import dev.lopper.eval.TensorSweep;
import dev.lopper.eval.VariantSession;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 4 through the real command line and the real Spark stages (local mode): structured runs
 * sweep channel groups (the residual pair once, with PyTorch's group-pruned numbers), allocate in
 * parameters or multiply-accumulates, and emit a physically smaller model that the verification
 * evaluates, that {@code onnx.checker} accepts and that computes what the emitted masks compute.
 */
class StructuredPruneTest {
  private static final Configuration CONF = new Configuration();
  private static final long[] ROW = {1, 8, 8};
  @TempDir Path dir;

  private static RunLopper run(String command, String model, Path out, String... settings) {
    List<String> args = new ArrayList<>(List.of(command,
        "--config", SampleData.dir().resolveSibling("conf").resolve("digits-resnet-structured.yaml").toString(),
        "--set", "model.onnx=" + SampleData.path(model + ".onnx"),
        "--set", "model.weights=" + SampleData.path(model + ".safetensors"),
        "--set", "data.path=" + SampleData.path("digits-val.parquet"),
        "--set", "allocation.target=0.5", "--set", "gate.max-drop=1.0", "--out", out.toString()));
    for (String s : settings) {
      args.add("--set");
      args.add(s);
    }
    return RunLopper.run(args.toArray(String[]::new));
  }

  private static Table csv(Path out, String name) {
    return ParquetTables.read(out.resolve(name + ".parquet").toString(), CONF);
  }

  private static JsonNode results(Path out) throws Exception {
    return new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("results");
  }

  private static List<Object> row(Table table, String column, Object value) {
    return table.rows().stream().filter(r -> value.equals(r.get(table.indexOf(column)))).findFirst()
        .orElseThrow(() -> new AssertionError("no row with " + column + " = " + value));
  }

  /** The group-pruned metrics of PyTorch's channel reference equal the swept rows of that group. */
  private static int assertMatchesChannelReference(Table sensitivity, String model, String norm) {
    Map<String, List<Object>> swept = new HashMap<>();
    for (List<Object> r : sensitivity.rows()) {
      swept.put(r.get(sensitivity.indexOf("tensor")) + "@" + r.get(sensitivity.indexOf("sparsity")), r);
    }
    int compared = 0;
    for (Map<String, String> ref : ReferenceCsv.read(model + "-channel.csv")) {
      if (!ref.get("norm").equals(norm)) {
        continue;
      }
      String group = String.join("+", Arrays.stream(ref.get("group").split("\\+")).map(m -> m + ".weight").toList());
      List<Object> r = swept.get(group + "@" + Double.parseDouble(ref.get("sparsity")));
      String where = model + " " + group + " " + norm + " " + ref.get("sparsity");
      assertTrue(r != null, where + " was not swept");
      assertEquals(Long.parseLong(ref.get("pruned_channels")), r.get(sensitivity.indexOf("pruned_channels")), where);
      assertEquals(Double.parseDouble(ref.get("accuracy")), (Double) r.get(sensitivity.indexOf("accuracy")), where);
      assertEquals(Double.parseDouble(ref.get("top5")), (Double) r.get(sensitivity.indexOf("top5")), where);
      assertEquals(Double.parseDouble(ref.get("loss")), (Double) r.get(sensitivity.indexOf("loss")), 1e-5, where);
      assertEquals(Double.parseDouble(ref.get("kl")), (Double) r.get(sensitivity.indexOf("kl")), 1e-5, where);
      assertEquals(Long.parseLong(ref.get("samples")), r.get(sensitivity.indexOf("samples")), where);
      compared++;
    }
    return compared;
  }

  private static long elements(OnnxModel model) {
    return model.weights().values().stream().mapToLong(WeightTensor::size).sum();
  }

  @Test
  void prunesTheResidualSampleByGroupsToHalfItsParametersAndVerifiesTheShrunkModel() throws Exception {
    Path out = dir.resolve("params");
    RunLopper run = run("prune", "digits-resnet", out);
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());

    // The residual pair is one swept item, measured with the whole group pruned, as PyTorch measured it.
    Table sensitivity = csv(out, "sensitivity");
    List<Object> names = sensitivity.rows().stream().map(r -> r.get(sensitivity.indexOf("tensor"))).distinct().toList();
    assertEquals(List.of("(dense)", "conv1.weight+conv3.weight", "conv2.weight"), names);
    assertEquals("group", row(sensitivity, "tensor", "conv1.weight+conv3.weight").get(sensitivity.indexOf("op")));
    // conv1 144 + 16, bn1 64, conv3 2304 + 16, bn3 64, conv2's input channels 2304, fc's columns 2560
    assertEquals(7472L, row(sensitivity, "tensor", "conv1.weight+conv3.weight").get(sensitivity.indexOf("parameters")));
    assertEquals(27, assertMatchesChannelReference(sensitivity, "digits-resnet", "L1"));
    assertTrue(Files.readString(out.resolve("sensitivity.csv")).startsWith("tensor,op,parameters,criterion,sparsity,"));

    // Blocked groups are reported, not fatal: the logits layer reaches the graph output.
    Table structure = csv(out, "structure");
    List<Object> fc = row(structure, "tensor", "fc.bias");
    assertEquals(false, fc.get(structure.indexOf("prunable")));
    assertTrue(((String) fc.get(structure.indexOf("reason"))).contains("graph output"));

    // The emitted model is physically smaller: at least half of the dense parameters are gone.
    OnnxModel dense = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-resnet.onnx")), CONF);
    String prunedFile = out.resolve("model/pruned.onnx").toString();
    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(prunedFile), CONF);
    assertEquals(7562, elements(dense));
    assertTrue(elements(shrunk) <= 7562 / 2, "shrunk parameters " + elements(shrunk));
    long a = shrunk.weight("conv1.weight").shape()[0];
    long b = shrunk.weight("conv2.weight").shape()[0];
    assertArrayEquals(new long[] {a, b, 3, 3}, shrunk.weight("conv3.weight").shape(), "the residual pair loses the same channels");
    assertArrayEquals(new long[] {10, a * 16}, shrunk.weight("fc.weight").shape());
    JsonNode results = results(out);
    assertEquals(elements(shrunk), results.get("parameters_pruned").asLong());
    assertTrue(results.get("removed_fraction").asDouble() >= 0.5);
    assertEquals((double) Files.size(Path.of(prunedFile)), results.get("bytes_pruned").asDouble());
    assertTrue(results.get("size_ratio").asDouble() > 1.8, results.toString());
    Table cost = csv(out, "cost");
    List<Object> total = row(cost, "node", "(total)");
    assertEquals(7562L, total.get(cost.indexOf("parameters_dense")));
    assertEquals(elements(shrunk), total.get(cost.indexOf("parameters_pruned")));

    // The shrunk ONNX is valid, and verification evaluated it against the dense model.
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(prunedFile);
      assertTrue(verdict.valid(), verdict.line());
    }
    Table verification = csv(out, "verification");
    double denseReference = Double.parseDouble(ReferenceCsv.read("digits-resnet-sensitivity.csv").get(0).get("accuracy"));
    assertEquals(denseReference, row(verification, "model", "dense").get(verification.indexOf("accuracy")));
    double verified = (Double) row(verification, "model", "pruned").get(verification.indexOf("accuracy"));

    // masks.safetensors, applied to the dense weights, computes what the shrunk file computes.
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    OnnxModel denseWithWeights = OnnxModel.load(new ModelSource(SampleData.path("digits-resnet.onnx"),
        SampleData.path("digits-resnet.safetensors")), CONF);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator masked = new Evaluator(denseWithWeights);
        Evaluator small = new Evaluator(shrunk)) {
      List<Batch> batches = ValidationSet.batches(ROW, 120, allocator);
      try (VariantSession m = masked.variant(masks.apply(denseWithWeights.weights()));
          VariantSession s = small.dense()) {
        for (Batch batch : batches) {
          Logits lm = m.logits(batch);
          Logits ls = s.logits(batch);
          for (int i = 0; i < lm.values().length; i++) {
            assertEquals(lm.values()[i], ls.values()[i], 1e-4, "logit " + i);
          }
        }
        assertEquals(verified, new TensorSweep(small, batches, 10).baseline().metrics().accuracy());
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void reachesAFlopsTargetCountedInMultiplyAccumulates() throws Exception {
    Path out = dir.resolve("flops");
    RunLopper run = run("prune", "digits-resnet", out, "allocation.unit=flops", "sweep.criterion=channel-l2");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    assertEquals(27, assertMatchesChannelReference(csv(out, "sensitivity"), "digits-resnet", "L2"));

    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(out.resolve("model/pruned.onnx").toString()), CONF);
    long a = shrunk.weight("conv1.weight").shape()[0];
    long b = shrunk.weight("conv2.weight").shape()[0];
    // By hand: 8×8 output positions, 3×3 kernels; conv1 1→a, conv2 a→b, conv3 b→a, fc a·16→10.
    long macs = 64 * 9 * (a + a * b + b * a) + a * 16 * 10;
    long denseMacs = 64 * 9 * (16 + 256 + 256) + 256 * 10;
    assertTrue(macs <= denseMacs / 2, "MACs " + macs + " of " + denseMacs);
    JsonNode results = results(out);
    assertEquals(macs, results.get("macs_pruned").asLong());
    assertEquals(denseMacs, results.get("macs").asLong());
    assertEquals("flops", results.get("unit").asText());
    assertEquals((double) denseMacs / macs, results.get("mac_ratio").asDouble(), 1e-12);
  }

  /**
   * Issue 4's latency target: half the CNN's parameters and a predicted 1.5x at batch 256. The
   * measured latencies decide the choice, so the test asserts what follows from them, not times:
   * the allocation removes half the parameters, prunes conv1's group (conv2's input channels; conv2's
   * own 16 output channels are one block of ONNX Runtime's NCHWc kernels, and fc1 is a small share
   * of the time), and its speed-up recomputed from the recorded {@code latency} table is at least
   * 1.5. Whether the emitted model then measures 1.5x is timing on a shared machine: the run passes
   * or fails the gate on it, saying which, and records the number either way.
   */
  @Test
  void aSpeedUpConstraintPrunesTheCnnGroupWhoseChannelsTheRuntimeTimes() throws Exception {
    Path out = dir.resolve("speed");
    RunLopper run = run("prune", "digits-cnn", out, "allocation.min-speedup=1.5");
    assertTrue(run.exit() == ExitCode.SUCCESS
        || (run.exit() == ExitCode.GATE_FAILED && run.stderr().contains("< min-speedup 1.5")), run.stderr());
    JsonNode results = results(out);
    assertTrue(results.get("removed_fraction").asDouble() >= 0.5, results.toString());
    assertTrue(results.get("parameters_pruned").asLong() <= 9898 / 2, results.toString());
    assertEquals(1.5, results.get("min_speedup").asDouble());
    assertEquals(256, results.get("latency_batch").asInt());
    assertTrue(results.get("latency_sequence").isNull(), "a float model has no sequence");
    assertEquals(0.5, results.get("target").asDouble(), "the named target is reported");
    assertTrue(results.get("measured_speedup").isNumber(), results.toString());
    assertTrue(results.get("latency_dense_us").asDouble() > 0, results.toString());
    // At least the default budget's 5 rounds of 5 pairs behind the verdict, and its standard error.
    assertTrue(results.get("latency_pairs").asInt() >= 25, results.toString());
    assertTrue(results.get("measured_speedup_error").asDouble() >= 0, results.toString());

    // Every group with a curve was timed at each of its distinct channel counts.
    Table latency = csv(out, "latency");
    Map<String, List<double[]>> points = new HashMap<>();
    for (List<Object> r : latency.rows()) {
      assertEquals(256L, r.get(latency.indexOf("batch")));
      assertTrue((Long) r.get(latency.indexOf("pairs")) >= 25, r.toString());
      assertTrue((Double) r.get(latency.indexOf("saving_error")) >= 0, r.toString());
      long channels = (Long) r.get(latency.indexOf("channels"));
      long kept = (Long) r.get(latency.indexOf("kept_channels"));
      double sparsity = (Double) r.get(latency.indexOf("sparsity"));
      assertEquals((channels - kept) / (double) channels, sparsity, 1e-12);
      points.computeIfAbsent((String) r.get(latency.indexOf("tensor")), k -> new ArrayList<>())
          .add(new double[] {sparsity, (Double) r.get(latency.indexOf("saving"))});
    }
    assertEquals(List.of(7, 9, 9), List.of(points.get("conv1.weight").size(), points.get("conv2.weight").size(),
        points.get("fc1.weight").size()));

    // conv1's group loses channels, and the shrunk model has them gone.
    Table allocation = csv(out, "allocation");
    long conv1Kept = (Long) row(allocation, "tensor", "conv1.weight").get(allocation.indexOf("kept_channels"));
    assertTrue(conv1Kept < 8, "conv1 keeps " + conv1Kept);
    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(out.resolve("model/pruned.onnx").toString()), CONF);
    assertEquals(conv1Kept, shrunk.weight("conv1.weight").shape()[0]);
    assertEquals(conv1Kept, shrunk.weight("conv2.weight").shape()[1]);

    // The predicted speed-up, recomputed from the recorded savings: 1 / (1 - sum of each group's saving
    // at its sparsity, linear between the timed points and from 0 at sparsity 0).
    double saved = 0;
    for (List<Object> r : allocation.rows()) {
      double s = (Double) r.get(allocation.indexOf("sparsity"));
      List<double[]> curve = points.get((String) r.get(allocation.indexOf("tensor")));
      double leftS = 0;
      double leftSaving = 0;
      for (double[] point : curve) {
        if (s <= point[0] + 1e-12) {
          saved += s == 0 ? 0 : leftSaving + (s - leftS) / (point[0] - leftS) * (point[1] - leftSaving);
          break;
        }
        leftS = point[0];
        leftSaving = point[1];
      }
    }
    assertEquals(1 / (1 - saved), results.get("predicted_speedup").asDouble(), 1e-9);
    assertTrue(results.get("predicted_speedup").asDouble() >= 1.5, results.toString());
  }

  @Test
  void sweepsTheCnnGroupsWithPyTorchsNumbers() {
    Path out = dir.resolve("cnn");
    RunLopper run = run("sensitivity", "digits-cnn", out, "sweep.criterion=channel-l2");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Table sensitivity = csv(out, "sensitivity");
    assertEquals(27, assertMatchesChannelReference(sensitivity, "digits-cnn", "L2"));
    assertEquals(1 + 3 * 9, sensitivity.rows().size());
  }

  @Test
  void refusesAModelWithoutAPrunableGroupBeforeSparkStarts() {
    // The MLP's fc3 is the logits layer: its group reaches the graph output.
    RunLopper run = run("prune", "digits-mlp", dir.resolve("mlp"), "model.include=[fc3.weight]",
        "data.input-shape=null");
    assertEquals(ExitCode.BAD_INPUT, run.exit(), run.stderr());
    assertTrue(run.stderr().contains("no channel group can be pruned structurally"), run.stderr());
    assertTrue(run.stderr().contains("graph output"), run.stderr());
  }

  @Test
  void countsMagnitudePruningInTheMultiplyAccumulatesOfTheZeroedWeights() throws Exception {
    Path out = dir.resolve("magnitude-flops");
    RunLopper run = run("prune", "digits-cnn", out, "sweep.criterion=magnitude", "allocation.unit=flops");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    // By hand: each weight is used at conv1 8·8, conv2 8·8, fc1 1 and fc2 1 positions per sample.
    Map<String, Long> uses = Map.of("conv1.weight", 64L, "conv2.weight", 64L, "fc1.weight", 1L, "fc2.weight", 1L);
    Table masks = csv(out, "masks");
    double pruned = 0;
    double total = 0;
    for (List<Object> r : masks.rows()) {
      long use = uses.get((String) r.get(masks.indexOf("tensor")));
      pruned += use * (Long) r.get(masks.indexOf("pruned"));
      total += use * (Long) r.get(masks.indexOf("parameters"));
    }
    assertEquals(8 * 9 * 64 + 16 * 8 * 9 * 64 + 256 * 32 + 32 * 10, total);
    assertTrue(pruned / total >= 0.5, "MACs of zeroed weights " + pruned / total);
    assertTrue(pruned / total <= 0.51, "overshoot " + pruned / total);
    assertEquals(pruned / total, results(out).get("pruned_macs_fraction").asDouble(), 1e-12);
  }
}
