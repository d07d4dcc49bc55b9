package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.Logits;
import dev.lopper.eval.VariantSession;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/lopper prune --metric perplexity} on the sample language model, with no other key: the
 * masks in the initializers' own layout and names, a pruned ONNX that passes onnx.checker and
 * computes what the masks applied to the dense weights compute, verification with perplexity
 * columns on both rows (the dense one PyTorch's), a gate on the relative increase, every policy,
 * and a report with the perplexity curves.
 */
class LanguageModelPruneTest {
  private static final Configuration CONF = new Configuration();
  @TempDir Path dir;

  private RunLopper prune(Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("prune", "--model", SampleData.path("tiny-lm.onnx"), "--data",
        SampleData.path("tiny-lm-val.parquet"), "--metric", "perplexity", "--out", out.toString()));
    args.addAll(List.of(more));
    return RunLopper.run(args.toArray(String[]::new));
  }

  @Test
  void prunesOnPerplexityAndTheFileIsTheMaskedModel() throws Exception {
    Path out = dir.resolve("lm");
    RunLopper run = prune(out, "--set", "gate.max-drop=0.5");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    String said = run.stdout() + run.stderr();
    assertTrue(said.contains("perplexity 5.4948") && said.contains("relative increase"), said);

    Table verification = ParquetTables.read(out.resolve("verification.parquet").toString(), CONF);
    int ppl = verification.indexOf("perplexity");
    assertTrue(ppl >= 0 && verification.indexOf("loss") >= 0, verification.columns().toString());
    assertEquals(-1, verification.indexOf("f1_macro"), "a classifier's metrics are not columns of an LM's table");
    double torchDense = Double.parseDouble(ReferenceCsv.read("tiny-lm-sensitivity.csv").get(0).get("perplexity"));
    assertEquals(torchDense, (Double) verification.rows().get(0).get(ppl), 1e-4 * torchDense);
    double prunedPpl = (Double) verification.rows().get(1).get(ppl);
    double measured = (Double) verification.rows().get(1).get(verification.indexOf("measured_drop"));
    assertEquals(prunedPpl / (Double) verification.rows().get(0).get(ppl) - 1, measured, 1e-12,
        "a perplexity drop is its relative increase");

    // Masks in each Linear weight's stored layout [out, in], named as the state dict names it.
    OnnxModel dense = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), CONF);
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    assertEquals(13, masks.names().size());
    for (String name : masks.names()) {
      assertArrayEquals(dense.weight(name).shape(), masks.get(name).orElseThrow().shape(), name);
    }
    assertArrayEquals(new long[] {256, 64}, masks.get("blocks.0.mlp.up.weight").orElseThrow().shape());

    String pruned = out.resolve("model/pruned.onnx").toString();
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(pruned);
      assertTrue(verdict.valid(), verdict.line());
    }
    OnnxModel file = OnnxModel.load(ModelSource.onnx(pruned), CONF);
    Table tokens = ParquetTables.read(SampleData.path("tiny-lm-val.parquet"), CONF);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator masked = new Evaluator(dense);
        Evaluator reloaded = new Evaluator(file);
        VariantSession m = masked.variant(masks.apply(dense.weights()));
        VariantSession f = reloaded.dense();
        SequenceBatchBuilder builder = new SequenceBatchBuilder(
            List.of(new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64)), "input_ids", null,
            16, allocator)) {
      for (int r = 0; r < 16; r++) {
        builder.add(new long[][] {(long[]) tokens.rows().get(r).get(tokens.indexOf("input_ids"))}, null);
      }
      try (Batch batch = builder.build()) {
        Logits lm = m.logits(batch);
        Logits lf = f.logits(batch);
        for (int i = 0; i < lm.values().length; i++) {
          assertEquals(lm.values()[i], lf.values()[i], 1e-5, "logit " + i);
        }
      }
    }
    String report = Files.readString(out.resolve("report.html"));
    assertTrue(report.contains("perplexity against sparsity"), "the report plots perplexity");
  }

  @Test
  void everyPolicyPrunesALanguageModelAndTheGateReadsARelativeIncrease() {
    for (String policy : List.of("uniform", "tolerance", "global-magnitude")) {
      Path out = dir.resolve(policy);
      RunLopper run = prune(out, "--policy", policy, "--set", "sweep.sparsities=[0.3, 0.6]", "--set",
          "model.include=[blocks.1.*]", "--set", "allocation.tolerance=0.02", "--set", "gate.max-drop=null");
      assertEquals(ExitCode.SUCCESS, run.exit(), policy + ": " + run.stderr());
      Table allocation = ParquetTables.read(out.resolve("allocation.parquet").toString(), CONF);
      assertEquals(6, allocation.rows().size(), policy);
    }
    Path gated = dir.resolve("gated");
    RunLopper run = prune(gated, "--set", "sweep.sparsities=[0.3, 0.6]", "--set", "model.include=[blocks.1.*]",
        "--set", "gate.max-drop=0.000001");
    assertEquals(ExitCode.GATE_FAILED, run.exit(), run.stderr());
    assertTrue(run.stderr().contains("relative increase"), run.stderr());
    assertFalse(run.stderr().contains("\tat "), run.stderr());
  }
}
