package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 2's central promise: for every prunable tensor of each sample model and every sparsity,
 * Lopper's masks are PyTorch's {@code l1_unstructured} masks bit for bit (compared by SHA-256 of
 * the 0/1 mask bytes), accuracy equals PyTorch's exactly and every other metric agrees within
 * 1e-5; and the global criterion equals {@code global_unstructured}.
 */
class SensitivityReferenceTest {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64", "digits-cnn, 1 8 8", "digits-resnet, 1 8 8"})
  void everyTensorAtEverySparsityEqualsTorchL1Unstructured(String name, String shape) throws Exception {
    OnnxModel model = OnnxModel.load(new ModelSource(SampleData.path(name + ".onnx"),
        SampleData.path(name + ".safetensors")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    Map<String, Map<String, String>> reference = new LinkedHashMap<>();
    for (Map<String, String> row : ReferenceCsv.read(name + "-sensitivity.csv")) {
      reference.put(row.get("tensor") + "@" + row.get("sparsity"), row);
    }
    int compared = 0;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, EvaluatorOptions.defaults())) {
      List<Batch> batches = ValidationSet.batches(rowShape(shape), 64, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
        for (PrunableTensor t : tensors) {
          assertMetrics(reference.get(t.name() + "@0.0"), sweep.baseline(), name + " dense");
          WeightTensor w = model.weight(t.name());
          Tally[] tallies = sweep.sweep(w, magnitude, GRID, context);
          List<MaskSet> masks = magnitude.selectGrid(List.of(w), GRID, context);
          for (int s = 0; s < GRID.length; s++) {
            Map<String, String> expected = reference.get(t.name() + "@" + GRID[s]);
            String where = name + " " + t.name() + " at " + GRID[s];
            Mask mask = masks.get(s).get(t.name()).orElseThrow();
            assertEquals(expected.get("mask_sha256"), sha256(mask.toBoolBytes()), where + ": mask");
            assertEquals(Long.parseLong(expected.get("pruned")), mask.prunedCount(), where + ": pruned");
            assertMetrics(expected, tallies[s], where);
            compared++;
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertEquals(tensors.size() * GRID.length, compared);
  }

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64", "digits-cnn, 1 8 8", "digits-resnet, 1 8 8"})
  void globalMagnitudeEqualsTorchGlobalUnstructured(String name, String shape) throws Exception {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    List<WeightTensor> weights = new ArrayList<>();
    tensors.forEach(t -> weights.add(model.weight(t.name())));
    PruningCriterion global = Criteria.byName("global-magnitude");
    List<Map<String, String>> reference = ReferenceCsv.read(name + "-global.csv");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, EvaluatorOptions.defaults())) {
      List<Batch> batches = ValidationSet.batches(rowShape(shape), 100, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
        for (double s : GRID) {
          MaskSet masks = global.select(weights, s, CriterionContext.of(tensors));
          Tally tally = sweep.evaluate(masks.apply(model.weights()));
          for (Map<String, String> row : reference) {
            if (Double.parseDouble(row.get("sparsity")) != s) {
              continue;
            }
            String where = name + " global " + s + " " + row.get("tensor");
            Mask mask = masks.get(row.get("tensor")).orElseThrow();
            assertEquals(row.get("mask_sha256"), sha256(mask.toBoolBytes()), where + ": mask");
            assertEquals(Double.parseDouble(row.get("accuracy")), tally.metrics().accuracy(), where + ": accuracy");
            assertEquals(Double.parseDouble(row.get("loss")), tally.metrics().loss(), 1e-5, where + ": loss");
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  private static void assertMetrics(Map<String, String> expected, Tally tally, String where) {
    Metrics m = tally.metrics();
    assertEquals(Long.parseLong(expected.get("samples")), m.samples(), where + ": samples");
    assertEquals(Double.parseDouble(expected.get("accuracy")), m.accuracy(), where + ": accuracy");
    assertEquals(Double.parseDouble(expected.get("top5")), m.top5(), where + ": top5");
    assertEquals(Double.parseDouble(expected.get("loss")), m.loss(), 1e-5, where + ": loss");
    assertEquals(Double.parseDouble(expected.get("precision_macro")), m.precisionMacro(), 1e-9, where + ": precision");
    assertEquals(Double.parseDouble(expected.get("recall_macro")), m.recallMacro(), 1e-9, where + ": recall");
    assertEquals(Double.parseDouble(expected.get("f1_macro")), m.f1Macro(), 1e-9, where + ": f1");
    assertEquals(Double.parseDouble(expected.get("kl")), m.kl(), 1e-5, where + ": kl");
  }

  static long[] rowShape(String shape) {
    return java.util.Arrays.stream(shape.trim().split(" ")).mapToLong(Long::parseLong).toArray();
  }

  static String sha256(ByteBuffer bytes) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    digest.update(bytes.duplicate());
    return HexFormat.of().formatHex(digest.digest());
  }
}
