package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Scoring;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * The sample language model (data/tiny-lm.onnx): for every Linear weight at every sparsity of the
 * grid, Lopper's masks are PyTorch's {@code l1_unstructured} masks bit for bit and the NLL and
 * perplexity over the validation tokens equal PyTorch's within 1e-4 relative
 * (data/reference/tiny-lm-sensitivity.csv, made by data/make_lm_sample.py), with prefix reuse and
 * without; the ragged file's rows, batched with rows of their own length, give PyTorch's per-row
 * NLL.
 */
class LanguageModelReferenceTest {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  private static final Configuration CONF = new Configuration();
  /** Tensors whose variants are also evaluated on the whole model: the first and the last block's. */
  private static final List<String> FULLY_EVALUATED = List.of("blocks.0.attn.q_proj.weight",
      "blocks.1.mlp.down.weight");

  static OnnxModel model() {
    return OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"), SampleData.path("tiny-lm.safetensors")),
        CONF);
  }

  /** The token rows of {@code file}, in batches of {@code batchSize} rows of one length. */
  static List<Batch> batches(String file, int batchSize, BufferAllocator allocator) {
    return ValidationSet.tokenBatches(file, batchSize, allocator);
  }

  @Test
  void everyLinearWeightAtEverySparsityEqualsTorchL1Unstructured() throws Exception {
    OnnxModel model = model();
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    assertEquals(13, tensors.size());
    Map<String, Map<String, String>> reference = new LinkedHashMap<>();
    List<Map<String, String>> rows = ReferenceCsv.read("tiny-lm-sensitivity.csv");
    for (Map<String, String> row : rows) {
      reference.put(row.get("tensor") + "@" + row.get("sparsity"), row);
    }
    PruningCriterion magnitude = Criteria.byName("magnitude");
    CriterionContext context = CriterionContext.of(tensors);
    int compared = 0;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, EvaluatorOptions.defaults())) {
      evaluator.checkReplacementsTakeEffect(tensors);
      List<Batch> batches = batches("tiny-lm-val.parquet", 16, allocator);
      try {
        List<List<String>> names = tensors.stream().map(t -> List.of(t.name())).toList();
        TensorSweep reused = TensorSweep.forItems(evaluator, batches, Scoring.languageModel(), names,
            TensorSweep.Options.defaults());
        TensorSweep full = TensorSweep.forItems(evaluator, batches, Scoring.languageModel(), names,
            TensorSweep.Options.fullEvaluation());
        assertLm(reference.get("@0.0"), reused.baseline(), "dense");
        for (PrunableTensor t : tensors) {
          WeightTensor w = model.weight(t.name());
          Tally[] tallies = reused.sweep(w, magnitude, GRID, context);
          Tally[] fullTallies = FULLY_EVALUATED.contains(t.name()) ? full.sweep(w, magnitude, GRID, context) : null;
          List<MaskSet> masks = magnitude.selectGrid(List.of(w), GRID, context);
          for (int s = 0; s < GRID.length; s++) {
            Map<String, String> expected = reference.get(t.name() + "@" + GRID[s]);
            String where = t.name() + " at " + GRID[s];
            assertEquals(expected.get("mask_sha256"),
                SensitivityReferenceTest.sha256(masks.get(s).get(t.name()).orElseThrow().toBoolBytes()), where);
            assertLm(expected, tallies[s], where);
            if (fullTallies != null) {
              assertEquals(fullTallies[s], tallies[s], where + ": prefix reuse against the whole model");
            }
            compared++;
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertEquals(13 * GRID.length, compared);
  }

  @Test
  void raggedRowsBatchedByLengthGiveThePyTorchRowNll() {
    List<Map<String, String>> reference = ReferenceCsv.read("tiny-lm-rows.csv").stream()
        .filter(r -> r.get("file").equals("tiny-lm-val-ragged.parquet")).toList();
    double nll = 0;
    long tokens = 0;
    for (Map<String, String> r : reference) {
      nll += Double.parseDouble(r.get("nll_sum"));
      tokens += Long.parseLong(r.get("tokens"));
    }
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model(), EvaluatorOptions.defaults())) {
      List<Batch> batches = batches("tiny-lm-val-ragged.parquet", 8, allocator);
      try {
        assertTrue(batches.size() > 8, "rows of different lengths are not batched together");
        Tally dense = TensorSweep.forItems(evaluator, batches, Scoring.languageModel(), List.<List<String>>of(),
            TensorSweep.Options.defaults()).baseline();
        assertEquals(tokens, dense.tokens().targets());
        assertEquals(nll, dense.tokens().nllSum().value(), 1e-5 * nll);
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  private static void assertLm(Map<String, String> expected, Tally tally, String where) {
    Metrics m = tally.metrics();
    assertEquals(Long.parseLong(expected.get("tokens")), tally.tokens().targets(), where + ": tokens");
    double nll = Double.parseDouble(expected.get("nll_sum"));
    assertEquals(nll, tally.tokens().nllSum().value(), 1e-4 * nll, where + ": nll_sum");
    double ppl = Double.parseDouble(expected.get("perplexity"));
    assertEquals(ppl, m.perplexity(), 1e-4 * ppl, where + ": perplexity");
    assertEquals(Double.parseDouble(expected.get("loss")), m.loss(), 1e-4 * m.loss(), where + ": loss");
    // Accuracy counts argmax hits; a variant whose smallest top-1/top-2 gap lies within float noise
    // may flip one, so it is compared to within a token where the gap is that small.
    long correct = tally.tokens().correct();
    long expectedCorrect = Long.parseLong(expected.get("correct"));
    double margin = Double.parseDouble(expected.get("min_margin"));
    assertTrue(correct == expectedCorrect || (margin < 1e-5 && Math.abs(correct - expectedCorrect) <= 1),
        where + ": correct " + correct + ", PyTorch " + expectedCorrect + " (smallest margin " + margin + ")");
  }
}
