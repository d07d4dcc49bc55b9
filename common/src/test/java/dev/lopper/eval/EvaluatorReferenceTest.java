package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.MagnitudeCriterion;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.TallyAccumulator;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ONNX Runtime's logits and Lopper's metrics on the validation split, for the dense sample models
 * and their magnitude-pruned variants, against PyTorch's and scikit-learn's numbers as
 * data/make_samples.py wrote them to data/reference/ ({@code torch.nn.utils.prune.l1_unstructured}
 * per tensor, {@code global_unstructured} over all prunable tensors).
 */
class EvaluatorReferenceTest {
  private static final int CLASSES = 10;
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn"})
  void logitsAndDenseMetricsEqualPyTorch(String name) {
    List<Map<String, String>> reference = csv("reference/" + name + "-logits.csv");
    try (Sample sample = new Sample(name)) {
      Map<Long, Integer> rowOfId = new HashMap<>();
      for (int r = 0; r < sample.ids.size(); r++) {
        rowOfId.put(sample.ids.get(r), r);
      }
      assertEquals(sample.ids.size(), reference.size());
      for (Map<String, String> expected : reference) {
        long id = Long.parseLong(expected.get("id"));
        int row = rowOfId.get(id);
        Logits logits = sample.dense.get(row / Sample.BATCH);
        for (int c = 0; c < CLASSES; c++) {
          assertEquals(Double.parseDouble(expected.get("logit" + c)),
              logits.get(row % Sample.BATCH, c), 1e-4, name + " id " + id + " class " + c);
        }
      }
      Map<String, String> baseline = csv("reference/" + name + "-sensitivity.csv").stream()
          .filter(row -> Double.parseDouble(row.get("sparsity")) == 0.0).findFirst().orElseThrow();
      Metrics dense = sample.metrics(Map.of());
      assertMetrics(baseline, dense, name + " dense");
      assertEquals(Long.parseLong(baseline.get("samples")), dense.samples());
      assertEquals(0.0, dense.kl());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn"})
  void everyPerTensorMagnitudeVariantMatchesL1Unstructured(String name) {
    List<Map<String, String>> rows = csv("reference/" + name + "-sensitivity.csv");
    int checked = 0;
    try (Sample sample = new Sample(name)) {
      for (Map<String, String> row : rows) {
        double sparsity = Double.parseDouble(row.get("sparsity"));
        if (sparsity == 0.0) {
          continue;
        }
        String tensor = row.get("tensor");
        MaskSet masks = MagnitudeCriterion.local().select(
            List.of(sample.model.weight(tensor)), sparsity, CriterionContext.empty());
        assertEquals(Long.parseLong(row.get("pruned")), masks.totalPruned(), tensor);
        Metrics m = sample.metrics(masks.apply(sample.model.weights()));
        String what = name + " " + tensor + " at " + sparsity;
        assertMetrics(row, m, what);
        assertEquals(Double.parseDouble(row.get("kl")), m.kl(), 1e-6, what + " kl");
        checked++;
      }
    }
    assertEquals(PrunableTensors.find(new Sample.Loader(name).model()).size() * GRID.length, checked);
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn"})
  void globalMagnitudeVariantsMatchGlobalUnstructured(String name) {
    Map<Double, List<Map<String, String>>> bySparsity = new LinkedHashMap<>();
    for (Map<String, String> row : csv("reference/" + name + "-global.csv")) {
      bySparsity.computeIfAbsent(Double.parseDouble(row.get("sparsity")), s -> new ArrayList<>())
          .add(row);
    }
    assertFalse(bySparsity.isEmpty());
    try (Sample sample = new Sample(name)) {
      for (Map.Entry<Double, List<Map<String, String>>> e : bySparsity.entrySet()) {
        List<WeightTensor> tensors = e.getValue().stream()
            .map(row -> sample.model.weight(row.get("tensor"))).toList();
        MaskSet masks = MagnitudeCriterion.global().select(tensors, e.getKey(),
            CriterionContext.empty());
        for (Map<String, String> row : e.getValue()) {
          assertEquals(Long.parseLong(row.get("pruned")),
              masks.get(row.get("tensor")).orElseThrow().prunedCount(),
              name + " " + row.get("tensor") + " at global " + e.getKey());
        }
        Metrics m = sample.metrics(masks.apply(sample.model.weights()));
        assertMetrics(e.getValue().get(0), m, name + " global " + e.getKey());
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp", "digits-cnn"})
  void zeroingAnyPrunableTensorChangesTheOutput(String name) {
    OnnxModel model = new Sample.Loader(name).model();
    try (Evaluator evaluator = new Evaluator(model)) {
      assertDoesNotThrow(() -> evaluator.checkReplacementsTakeEffect(PrunableTensors.find(model)));
    }
  }

  /** Accuracy and top-5 exactly, loss within 1e-5, macro metrics (same confusion) within 1e-12. */
  private static void assertMetrics(Map<String, String> expected, Metrics m, String what) {
    assertEquals(Double.parseDouble(expected.get("accuracy")), m.accuracy(), 0.0, what + " accuracy");
    assertEquals(Double.parseDouble(expected.get("loss")), m.loss(), 1e-5, what + " loss");
    if (expected.containsKey("top5")) {
      assertEquals(Double.parseDouble(expected.get("top5")), m.top5(), 0.0, what + " top5");
      assertEquals(Double.parseDouble(expected.get("precision_macro")), m.precisionMacro(), 1e-12,
          what + " precision");
      assertEquals(Double.parseDouble(expected.get("recall_macro")), m.recallMacro(), 1e-12,
          what + " recall");
      assertEquals(Double.parseDouble(expected.get("f1_macro")), m.f1Macro(), 1e-12, what + " f1");
    }
  }

  /** The rows of a CSV file in data/ (no quoted cells), as column -> cell. */
  private static List<Map<String, String>> csv(String file) {
    try {
      List<String> lines = Files.readAllLines(SampleData.dir().resolve(file));
      String[] header = lines.get(0).split(",");
      List<Map<String, String>> rows = new ArrayList<>();
      for (String line : lines.subList(1, lines.size())) {
        String[] cells = line.split(",", -1);
        Map<String, String> row = new HashMap<>();
        for (int i = 0; i < header.length; i++) {
          row.put(header[i], cells[i]);
        }
        rows.add(row);
      }
      return rows;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A sample model, the validation split in batches, and the dense model's logits per batch. */
  private static final class Sample implements AutoCloseable {
    static final int BATCH = 100;
    final OnnxModel model;
    final List<Long> ids = new ArrayList<>();
    final List<Batch> batches = new ArrayList<>();
    final List<Logits> dense = new ArrayList<>();
    private final BufferAllocator allocator = new RootAllocator();
    private final Evaluator evaluator;

    record Loader(String name) {
      OnnxModel model() {
        Path onnx = SampleData.dir().resolve(name + ".onnx");
        return OnnxModel.load(ModelSource.onnx(onnx.toString()), new Configuration());
      }
    }

    Sample(String name) {
      model = new Loader(name).model();
      Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
      int id = val.indexOf("id");
      int features = val.indexOf("features");
      int label = val.indexOf("label");
      long[] dims = model.inputs().get(0).dims();
      long[] rowShape = Arrays.copyOfRange(dims, 1, dims.length);
      try (BatchBuilder builder = new BatchBuilder(rowShape, BATCH, true, allocator)) {
        for (List<Object> row : val.rows()) {
          ids.add(((Number) row.get(id)).longValue());
          builder.add((float[]) row.get(features), ((Number) row.get(label)).intValue());
          if (builder.isFull()) {
            batches.add(builder.build());
          }
        }
        if (builder.rows() > 0) {
          batches.add(builder.build());
        }
      }
      evaluator = new Evaluator(model);
      try (Evaluator.Session session = evaluator.dense()) {
        for (Batch b : batches) {
          dense.add(session.logits(b));
        }
      }
    }

    /** Metrics of the model with {@code replacements}, KL against the dense model. */
    Metrics metrics(Map<String, WeightTensor> replacements) {
      TallyAccumulator tally = new TallyAccumulator(CLASSES);
      try (Evaluator.Session session = evaluator.variant(replacements)) {
        for (int i = 0; i < batches.size(); i++) {
          tally.add(session.logits(batches.get(i)), batches.get(i), dense.get(i));
        }
      }
      return tally.toTally().metrics();
    }

    @Override
    public void close() {
      evaluator.close();
      batches.forEach(Batch::close);
      allocator.close();
    }
  }
}
