package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.data.Batch;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pruned model written as ONNX (and as safetensors over the dense graph) passes the ONNX
 * checker, reloads, and gives exactly the logits of the masked evaluation it came from.
 */
class PrunedModelReloadTest {
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  @Test
  void writtenPrunedModelsEvaluateExactlyLikeTheMaskedVariant() {
    OnnxModel cnn = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), conf);
    List<PrunableTensor> tensors = PrunableTensors.find(cnn);
    MaskSet masks = Criteria.byName("global-magnitude").select(
        tensors.stream().map(t -> cnn.weight(t.name())).toList(), 0.7, CriterionContext.of(tensors));
    Map<String, WeightTensor> pruned = masks.apply(cnn.weights());
    String onnx = dir.resolve("pruned.onnx").toString();
    String weights = dir.resolve("pruned.safetensors").toString();
    PrunedModelWriter.writeOnnx(cnn, pruned, onnx, conf);
    PrunedModelWriter.writeSafetensors(cnn, pruned, weights, conf);

    OnnxModel reloaded = OnnxModel.load(ModelSource.onnx(onnx), conf);
    OnnxModel overDenseGraph = OnnxModel.load(new ModelSource(SampleData.path("digits-cnn.onnx"), weights), conf);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator original = new Evaluator(cnn);
        Evaluator fromOnnx = new Evaluator(reloaded);
        Evaluator fromSafetensors = new Evaluator(overDenseGraph)) {
      List<Batch> batches = ValidationSet.batches(new long[] {1, 8, 8}, 128, allocator);
      try (VariantSession masked = original.variant(pruned);
          VariantSession dense = original.dense();
          VariantSession a = fromOnnx.dense();
          VariantSession b = fromSafetensors.dense()) {
        for (Batch batch : batches) {
          Logits expected = masked.logits(batch);
          assertEquals(expected, a.logits(batch), "reloaded ONNX");
          assertEquals(expected, b.logits(batch), "safetensors over the dense graph");
          assertNotEquals(expected, dense.logits(batch), "pruning changed the outputs");
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertTrue(masks.sparsity() > 0.69 && masks.sparsity() < 0.71, "sparsity " + masks.sparsity());
  }

  @Test
  void onnxCheckerAcceptsThePrunedModel() {
    assumeTrue(OnnxCheck.available(), "python3 with onnx is not installed");
    OnnxModel mlp = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-mlp.onnx")), conf);
    List<PrunableTensor> tensors = PrunableTensors.find(mlp);
    MaskSet masks = Criteria.byName("magnitude").select(
        tensors.stream().map(t -> mlp.weight(t.name())).toList(), 0.5, CriterionContext.of(tensors));
    String onnx = dir.resolve("mlp-pruned.onnx").toString();
    PrunedModelWriter.writeOnnx(mlp, masks.apply(mlp.weights()), onnx, conf);
    OnnxCheck.Verdict verdict = OnnxCheck.run(onnx);
    assertTrue(verdict.valid(), verdict.line());
  }
}
