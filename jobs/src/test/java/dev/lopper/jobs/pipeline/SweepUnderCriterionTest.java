package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.Mask;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Scoring;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/lopper sensitivity} under an activation-aware criterion measures each tensor pruned by
 * that criterion from the dense model's calibration statistics: the perplexity of a tensor's row at
 * sparsity 0.5 equals that of the model with only that tensor replaced by PyTorch's reference
 * pruning of it (data/make_pruning_references.py's {@code <criterion>-50-dense}: Wanda's mask applied
 * to the dense weight, SparseGPT's updated weight), evaluated here in one process.
 */
class SweepUnderCriterionTest {
  private static final Configuration CONF = new Configuration();
  private static final List<String> TENSORS = List.of("blocks.0.attn.q_proj.weight", "blocks.1.mlp.down.weight",
      "lm_head.weight");
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"wanda", "sparsegpt"})
  void curvesAreMeasuredUnderTheCriterion(String criterion) throws Exception {
    Path out = dir.resolve(criterion);
    RunLopper run = RunLopper.run("sensitivity", "--model", SampleData.path("tiny-lm.onnx"), "--data",
        SampleData.path("tiny-lm-val.parquet"), "--metric", "perplexity", "--out", out.toString(),
        "--criterion", criterion, "--set", "sweep.sparsities=[0.5]", "--set", "calibration.rows=32",
        "--set", "data.batch-size=8");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Table table = ParquetTables.read(out.resolve("sensitivity.parquet").toString(), CONF);

    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path("tiny-lm.onnx")), CONF);
    Safetensors.File reference = Safetensors.open(SampleData.path("reference/pruning-tiny-lm.safetensors"), CONF);
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.tokenBatches("tiny-lm-val.parquet", 16, allocator);
      try {
        TensorSweep sweep = TensorSweep.forItems(evaluator, batches, Scoring.languageModel(), List.of(),
            TensorSweep.Options.fullEvaluation());
        for (String tensor : TENSORS) {
          String key = criterion + "-50-dense/" + tensor;
          Safetensors.Entry entry = reference.entries().get(key);
          WeightTensor pruned = criterion.equals("wanda")
              ? Mask.fromBoolBytes(tensor, entry.shape(), reference.readBytes(entry)).apply(model.weight(tensor))
              : reference.readFloat(key);
          WeightTensor named = WeightTensor.of(tensor, pruned.shape(), pruned.toArray());
          double expected = Metrics.of(sweep.evaluate(Map.of(tensor, named))).perplexity();
          double measured = perplexity(table, tensor);
          assertEquals(expected, measured, (criterion.equals("wanda") ? 1e-9 : 1e-5) * expected, tensor);
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  private static double perplexity(Table table, String tensor) {
    for (List<Object> row : table.rows()) {
      if (tensor.equals(row.get(table.indexOf("tensor")))
          && ((Double) row.get(table.indexOf("sparsity"))) == 0.5) {
        return (Double) row.get(table.indexOf("perplexity"));
      }
    }
    throw new AssertionError("no row of " + tensor + " at 0.5");
  }
}
