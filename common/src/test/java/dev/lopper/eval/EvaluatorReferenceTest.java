package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.data.Batch;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.Table;
import dev.lopper.metrics.Metrics;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ONNX Runtime's logits and Lopper's dense metrics on the validation split against PyTorch's and
 * scikit-learn's numbers as data/make_samples.py wrote them to data/reference/. The pruned variants
 * are compared in {@link SensitivityReferenceTest}.
 */
class EvaluatorReferenceTest {
  private static final int CLASSES = 10;
  private static final int BATCH = 100;

  private static OnnxModel load(String name) {
    return OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), new Configuration());
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn", "digits-resnet"})
  void logitsAndDenseMetricsEqualPyTorch(String name) {
    OnnxModel model = load(name);
    long[] dims = model.inputs().get(0).dims();
    long[] rowShape = Arrays.copyOfRange(dims, 1, dims.length);
    Table table = ValidationSet.table();
    List<Map<String, String>> reference = ReferenceCsv.read(name + "-logits.csv");
    assertEquals(table.rows().size(), reference.size());
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(rowShape, BATCH, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, CLASSES);
        List<Logits> logits = sweep.denseLogits();
        int idColumn = table.indexOf("id");
        for (int row = 0; row < table.rows().size(); row++) {
          long id = ((Number) table.rows().get(row).get(idColumn)).longValue();
          Map<String, String> expected = reference.stream()
              .filter(r -> Long.parseLong(r.get("id")) == id).findFirst().orElseThrow();
          for (int c = 0; c < CLASSES; c++) {
            assertEquals(Double.parseDouble(expected.get("logit" + c)), logits.get(row / BATCH).get(row % BATCH, c),
                1e-4, name + " id " + id + " class " + c);
          }
        }
        Map<String, String> baseline = ReferenceCsv.read(name + "-sensitivity.csv").stream()
            .filter(r -> Double.parseDouble(r.get("sparsity")) == 0.0).findFirst().orElseThrow();
        Metrics dense = sweep.baseline().metrics();
        assertEquals(Long.parseLong(baseline.get("samples")), dense.samples());
        assertEquals(Double.parseDouble(baseline.get("accuracy")), dense.accuracy(), 0.0, "accuracy");
        assertEquals(Double.parseDouble(baseline.get("top5")), dense.top5(), 0.0, "top5");
        assertEquals(Double.parseDouble(baseline.get("loss")), dense.loss(), 1e-5, "loss");
        assertEquals(Double.parseDouble(baseline.get("f1_macro")), dense.f1Macro(), 1e-12, "f1");
        assertEquals(0.0, dense.kl());
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn", "digits-resnet"})
  void zeroingAnyPrunableTensorChangesTheOutput(String name) {
    OnnxModel model = load(name);
    try (Evaluator evaluator = new Evaluator(model)) {
      assertDoesNotThrow(() -> evaluator.checkReplacementsTakeEffect(PrunableTensors.find(model)));
    }
  }
}
