package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.TransformerModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample language model pruned by heads and FFN neurons through the real command line: the
 * sweep's items are its four groups, the emitted model has whole heads and neurons removed (its
 * Reshape shapes rewritten), passes {@code onnx.checker}, and computes under ONNX Runtime what the
 * dense model with the emitted masks computes.
 */
class LanguageModelStructuredPruneTest {
  private static final Configuration CONF = new Configuration();
  @TempDir Path dir;

  @Test
  void prunesTheSampleLmByHeadsAndNeuronsAndEmitsAModelThatEqualsItsMasks() throws Exception {
    Path out = dir.resolve("lm");
    RunLopper run = pruneSampleLm(SampleData.dir().resolveSibling("conf").resolve("tiny-lm.yaml"), out,
        "--set", "sweep.criterion=channel-l2", "--set", "sweep.sparsities=[0.25,0.5,0.75]",
        "--set", "allocation.target=0.3", "--set", "gate.max-drop=10");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());

    Table sensitivity = ParquetTables.read(out.resolve("sensitivity.parquet").toString(), CONF);
    List<Object> names = sensitivity.rows().stream().map(r -> r.get(sensitivity.indexOf("tensor"))).distinct().toList();
    String heads0 = "blocks.0.attn.q_proj.weight+blocks.0.attn.k_proj.weight+blocks.0.attn.v_proj.weight";
    String heads1 = "blocks.1.attn.q_proj.weight+blocks.1.attn.k_proj.weight+blocks.1.attn.v_proj.weight";
    assertEquals(List.of("(dense)", heads0, "blocks.0.mlp.up.weight", heads1, "blocks.1.mlp.up.weight"), names);

    // Whole heads (16 rows of q, k, v; 16 columns of out_proj) and neurons are gone, consistently.
    Table allocation = ParquetTables.read(out.resolve("allocation.parquet").toString(), CONF);
    String prunedFile = out.resolve("model/pruned.onnx").toString();
    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(prunedFile), CONF);
    for (List<Object> row : allocation.rows()) {
      String group = (String) row.get(allocation.indexOf("tensor"));
      long kept = (Long) row.get(allocation.indexOf("kept_channels"));
      String b = group.startsWith("blocks.0") ? "blocks.0" : "blocks.1";
      if (group.contains("attn")) {
        for (String p : List.of("q_proj", "k_proj", "v_proj")) {
          assertArrayEquals(new long[] {16 * kept, 64}, shrunk.weight(b + ".attn." + p + ".weight").shape(), group);
        }
        assertArrayEquals(new long[] {64, 16 * kept}, shrunk.weight(b + ".attn.out_proj.weight").shape(), group);
      } else {
        assertArrayEquals(new long[] {kept, 64}, shrunk.weight(b + ".mlp.up.weight").shape(), group);
        assertArrayEquals(new long[] {64, kept}, shrunk.weight(b + ".mlp.down.weight").shape(), group);
      }
    }
    assertTrue(allocation.rows().stream().anyMatch(r -> (Long) r.get(allocation.indexOf("kept_channels"))
        < (Long) r.get(allocation.indexOf("channels"))), "something was pruned");
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(prunedFile);
      assertTrue(verdict.valid(), verdict.line());
    }

    // masks.safetensors on the dense weights computes what the shrunk file computes.
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    OnnxModel dense = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), CONF);
    String maskedFile = dir.resolve("masked.onnx").toString();
    PrunedModelWriter.writeOnnx(dense, masks.apply(dense.weights()), maskedFile, CONF);
    assertSameLogits(maskedFile, prunedFile, "masked and shrunk");
  }

  /**
   * channel-fluctuation with compensation on the sample LM, whose Linear weights reach their
   * MatMuls through Transpose and whose biases come first in their Adds: no group's compensation
   * is blocked, the manifest counts the compensated out_proj/down biases, and the dense weights
   * with compensation.safetensors and then masks.safetensors compute what the shrunk file computes.
   */
  @Test
  void compensatesTheSampleLmsHeadsAndNeuronsWithFluctuation() throws Exception {
    Path out = dir.resolve("lm-fluctuation");
    RunLopper run = pruneSampleLm(SampleData.dir().resolveSibling("conf").resolve("tiny-lm.yaml"), out,
        "--set", "sweep.criterion=channel-fluctuation", "--set", "structure.compensate=true",
        "--set", "sweep.sparsities=[0.25,0.5,0.75]",
        "--set", "allocation.target=0.3", "--set", "gate.max-drop=10");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    JsonNode results = new ObjectMapper()
        .readTree(out.resolve("manifest.json").toFile()).get("results");
    assertTrue(results.get("compensated_biases").asInt() >= 1, results.toString());
    assertTrue(results.get("compensation_blocked") == null || results.get("compensation_blocked").isEmpty(),
        results.toString());

    OnnxModel dense = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), CONF);
    Map<String, WeightTensor> weights = new LinkedHashMap<>();
    Safetensors.File compensation =
        Safetensors.open(out.resolve("compensation.safetensors").toString(), CONF);
    for (String name : compensation.entries().keySet()) {
      assertTrue(name.endsWith("out_proj.bias") || name.endsWith("mlp.down.bias"), name);
      weights.put(name, compensation.readFloat(name));
    }
    assertEquals(results.get("compensated_biases").asInt(), weights.size());
    Map<String, WeightTensor> all = new LinkedHashMap<>(dense.weights());
    all.putAll(weights);
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    weights.putAll(masks.apply(all));
    String maskedFile = dir.resolve("masked-compensated.onnx").toString();
    PrunedModelWriter.writeOnnx(dense, weights, maskedFile, CONF);
    assertSameLogits(maskedFile, out.resolve("model/pruned.onnx").toString(), "compensated masked and shrunk");
  }

  @Test
  void reachesASpeedupWithoutATargetOnTokenRowsAndEmitsACheckedModel() throws Exception {
    Path out = dir.resolve("fast");
    // No allocation.target (conf/tiny-lm.yaml's line taken out): the default 0.5 does not apply, the
    // speed-up alone decides. The probe's default 128 tokens per row are capped at the sample LM's
    // 64 positions.
    Path config = dir.resolve("tiny-lm-no-target.yaml");
    Files.write(config, Files.readAllLines(SampleData.dir().resolveSibling("conf").resolve("tiny-lm.yaml")).stream()
        .filter(line -> !line.trim().startsWith("target:")).toList());
    RunLopper run = pruneSampleLm(config, out,
        "--set", "sweep.criterion=channel-l2", "--set", "sweep.sparsities=[0.25,0.5,0.75]",
        "--set", "allocation.min-speedup=1.2", "--set", "allocation.latency-batch=8",
        "--set", "gate.max-drop=10");
    // The measured speed-up is the gate's to judge; on a loaded machine it may fall short.
    assertTrue(run.exit() == ExitCode.SUCCESS
        || (run.exit() == ExitCode.GATE_FAILED && run.stderr().contains("< min-speedup 1.2")), run.stderr());
    JsonNode results = new ObjectMapper().readTree(out.resolve("manifest.json").toFile()).get("results");
    assertEquals(1.2, results.get("min_speedup").asDouble());
    assertTrue(results.get("predicted_speedup").asDouble() >= 1.2, results.toString());
    assertTrue(results.get("latency_dense_us").asDouble() > 0, results.toString());
    // the default 128 tokens capped at the 64 positions; no target applied, none reported
    assertEquals(64, results.get("latency_sequence").asInt(), results.toString());
    assertTrue(results.get("target").isNull(), results.toString());
    assertEquals("min-speedup", results.get("policy").asText(), results.toString());
    assertTrue(results.get("policy_target").isNull(), results.toString());
    Table latency = ParquetTables.read(out.resolve("latency.parquet").toString(), CONF);
    // Two blocks: each block's heads timed together with the other block's, and its neurons too,
    // one timing per kind and sparsity, the saving shared equally.
    assertEquals(4 * 3, latency.rows().size(), "every group at every swept sparsity");
    Map<String, Double> shares = new LinkedHashMap<>();
    for (List<Object> r : latency.rows()) {
      assertEquals(2L, r.get(latency.indexOf("timed_with")));
      assertTrue((Long) r.get(latency.indexOf("pairs")) >= 25, r.toString());
      assertTrue((Double) r.get(latency.indexOf("saving_error")) >= 0, r.toString());
      String tensor = (String) r.get(latency.indexOf("tensor"));
      String key = (tensor.contains("attn") ? "heads" : "neurons") + "@" + r.get(latency.indexOf("sparsity"));
      Double other = shares.putIfAbsent(key, (Double) r.get(latency.indexOf("saving")));
      if (other != null) {
        assertEquals(other, (Double) r.get(latency.indexOf("saving")), key);
      }
    }
    assertEquals(6, shares.size(), shares.toString());
    String prunedFile = out.resolve("model/pruned.onnx").toString();
    OnnxModel shrunk = OnnxModel.load(ModelSource.onnx(prunedFile), CONF);
    assertTrue(shrunk.weights().values().stream().mapToLong(w -> w.shape().length == 0 ? 1
        : java.util.Arrays.stream(w.shape()).reduce(1, (x, y) -> x * y)).sum() < 137_216, "something was pruned");
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(prunedFile);
      assertTrue(verdict.valid(), verdict.line());
    }
  }

  /**
   * {@code prune} of the sample LM (its model, weights and validation rows) with {@code config},
   * then {@code settings}, into {@code out}.
   */
  private static RunLopper pruneSampleLm(Path config, Path out, String... settings) {
    List<String> args = new java.util.ArrayList<>(List.of("prune", "--config", config.toString(),
        "--set", "model.onnx=" + SampleData.path("tiny-lm.onnx"),
        "--set", "model.weights=" + SampleData.path("tiny-lm.safetensors"),
        "--set", "data.path=" + SampleData.path("tiny-lm-val.parquet")));
    args.addAll(List.of(settings));
    args.addAll(List.of("--out", out.toString()));
    return RunLopper.run(args.toArray(String[]::new));
  }

  /** The two files' logits on 8 of the sample LM's rows agree within 1e-4. */
  private static void assertSameLogits(String aFile, String bFile, String what) throws Exception {
    long[][] rows = TransformerModels.lmRows(8);
    float[] a = TransformerModels.runLm(aFile, rows);
    float[] b = TransformerModels.runLm(bFile, rows);
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    assertTrue(worst <= 1e-4, what + " logits differ by " + worst);
  }
}
