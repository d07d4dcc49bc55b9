package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.Logits;
import dev.lopper.eval.VariantSession;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Activation-aware channel criteria and bias compensation through the real command line and Spark
 * stages (local mode): the sweep measures each CNN group with its compensated biases, as PyTorch
 * measured it (data/reference/channel-activation-digits-cnn.csv, calibrated on the first 64 rows),
 * and a structured prune with {@code channel-wanda}, compensation and a speed-up constraint emits a
 * smaller model whose outputs are those of the dense model with {@code compensation.safetensors}
 * and {@code masks.safetensors} applied.
 */
class CompensatedStructuredPruneTest {
  private static final Configuration CONF = new Configuration();
  private static final long[] ROW = {1, 8, 8};
  @TempDir Path dir;

  private static RunLopper run(String command, Path out, String... settings) {
    List<String> args = new ArrayList<>(List.of(command,
        "--config", SampleData.dir().resolveSibling("conf").resolve("digits-cnn.yaml").toString(),
        "--set", "model.onnx=" + SampleData.path("digits-cnn.onnx"),
        "--set", "model.weights=" + SampleData.path("digits-cnn.safetensors"),
        "--set", "data.path=" + SampleData.path("digits-val.parquet"),
        "--set", "calibration.rows=64", "--set", "allocation.target=0.5", "--set", "gate.max-drop=1.0",
        "--out", out.toString()));
    for (String s : settings) {
      args.add("--set");
      args.add(s);
    }
    return RunLopper.run(args.toArray(String[]::new));
  }

  private static Table table(Path out, String name) {
    return ParquetTables.read(out.resolve(name + ".parquet").toString(), CONF);
  }

  @Test
  void sweepsEachGroupWithItsCompensationAsPyTorchMeasuredIt() {
    for (String criterion : List.of("fluctuation", "wanda")) {
      Path out = dir.resolve(criterion);
      RunLopper run = run("sensitivity", out, "sweep.criterion=channel-" + criterion,
          "sweep.sparsities=[0.25,0.5,0.75]");
      assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
      Table sensitivity = table(out, "sensitivity");
      Map<String, List<Object>> swept = new HashMap<>();
      for (List<Object> r : sensitivity.rows()) {
        swept.put(r.get(sensitivity.indexOf("tensor")) + "@" + r.get(sensitivity.indexOf("sparsity")), r);
      }
      int compared = 0;
      for (Map<String, String> ref : ReferenceCsv.read("channel-activation-digits-cnn.csv")) {
        if (!ref.get("criterion").equals(criterion)) {
          continue;
        }
        String where = criterion + " " + ref.get("group") + " " + ref.get("sparsity");
        List<Object> r = swept.get(ref.get("group") + ".weight@" + Double.parseDouble(ref.get("sparsity")));
        assertTrue(r != null, where + " was not swept");
        assertEquals(Long.parseLong(ref.get("pruned_channels")), r.get(sensitivity.indexOf("pruned_channels")), where);
        assertEquals(Double.parseDouble(ref.get("accuracy")), (Double) r.get(sensitivity.indexOf("accuracy")), where);
        assertEquals(Double.parseDouble(ref.get("loss")), (Double) r.get(sensitivity.indexOf("loss")), 1e-5, where);
        compared++;
      }
      assertEquals(9, compared);
    }
  }

  @Test
  void prunesTheCnnWithCompensationUnderASpeedUpConstraint() throws Exception {
    Path out = dir.resolve("prune");
    RunLopper run = run("prune", out, "sweep.criterion=channel-wanda", "allocation.min-speedup=1.5");
    assertTrue(run.exit() == ExitCode.SUCCESS
        || (run.exit() == ExitCode.GATE_FAILED && run.stderr().contains("< min-speedup 1.5")), run.stderr());
    JsonNode results = new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("results");
    assertTrue(results.get("compensated_biases").asInt() >= 1, results.toString());
    assertTrue(results.get("measured_speedup").isNumber(), results.toString());
    assertTrue(Files.exists(out.resolve("latency.parquet")));

    String prunedFile = out.resolve("model/pruned.onnx").toString();
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(prunedFile);
      assertTrue(verdict.valid(), verdict.line());
    }
    // The dense weights, then compensation.safetensors' biases, then masks.safetensors: the shrunk model.
    OnnxModel dense = OnnxModel.load(new ModelSource(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors")), CONF);
    Map<String, WeightTensor> weights = new LinkedHashMap<>(dense.weights());
    Safetensors.File compensation = Safetensors.open(out.resolve("compensation.safetensors").toString(), CONF);
    int changed = 0;
    for (String name : compensation.entries().keySet()) {
      WeightTensor b = compensation.readFloat(name);
      // Removed channels that are dead (always 0 after the ReLU) compensate nothing.
      changed += java.util.Arrays.equals(b.toArray(), dense.weight(name).toArray()) ? 0 : 1;
      weights.put(name, b);
    }
    assertTrue(changed >= 1, "no bias changed");
    assertEquals(results.get("compensated_biases").asInt(), compensation.entries().size());
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    weights.putAll(masks.apply(weights)); // apply returns the masked tensors only
    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(prunedFile), CONF);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator masked = new Evaluator(dense);
        Evaluator small = new Evaluator(shrunk)) {
      List<Batch> batches = ValidationSet.batches(ROW, 120, allocator);
      try (VariantSession m = masked.variant(weights);
          VariantSession s = small.dense()) {
        for (Batch batch : batches) {
          Logits lm = m.logits(batch);
          Logits ls = s.logits(batch);
          for (int i = 0; i < lm.values().length; i++) {
            assertEquals(lm.values()[i], ls.values()[i], 1e-4, "logit " + i);
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }
}
