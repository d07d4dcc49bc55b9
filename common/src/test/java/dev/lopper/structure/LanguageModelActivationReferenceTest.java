package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.calibration.ChunkStatistics;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.calibration.GramOptions;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.eval.Evaluator;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code channel-fluctuation}, {@code channel-wanda} and bias compensation on the sample LM's
 * attention heads and FFN neurons against data/reference/tiny-lm-channel-activation.csv, written
 * by data/make_lm_structured_reference.py from PyTorch forward hooks on out_proj and down (all
 * 112 validation rows): every head's and neuron's score (FLAP's squared per-column metric summed
 * over a head's 16 columns; a neuron's column as it is) within 1e-5 of the group's largest, the kept
 * heads and neurons exactly, the compensated out_proj and down biases within 1e-5 of their scale,
 * and the perplexity of the model with all four groups pruned (with and without compensation,
 * masked in PyTorch) against the shrunk file's under ONNX Runtime. The weights reach their MatMuls
 * through Transpose and the biases come first in their Adds, so compensation must follow both.
 * The compensated shrunk model equals the compensated masked one within 1e-4.
 */
class LanguageModelActivationReferenceTest {
  private static final Configuration CONF = new Configuration();
  private static final int ROWS = 112;

  @TempDir Path dir;

  @Test
  void headAndNeuronScoresCompensationAndPerplexityEqualPyTorch() throws Exception {
    OnnxModel model = TransformerModels.tinyLm();
    ModelStructure structure = ModelStructure.analyse(model);
    Map<String, InputStatistics> statistics = statistics(model, ROWS);
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    assertTrue(compensation.blocked().isEmpty(), compensation.blocked().toString());
    long[][] rows = TransformerModels.lmRows(ROWS);
    List<Map<String, String>> reference = ReferenceCsv.read("tiny-lm-channel-activation.csv");
    double worstScore = 0;
    double worstBias = 0;
    double worstShrunk = 0;
    Map<String, Map<Integer, int[]>> selections = new LinkedHashMap<>();
    Map<String, Map<String, String>> firstRow = new LinkedHashMap<>();
    for (Map<String, String> row : reference) {
      ChannelGroup group = structure.group(row.get("group")).orElseThrow(() -> new AssertionError(row.get("group")
          + " not among " + structure.prunableGroups().stream().map(ChannelGroup::name).toList()));
      ChannelCriterion criterion = ((ChannelCriterion) Criteria.byName(row.get("criterion"))).withStatistics(statistics);
      double sparsity = Double.parseDouble(row.get("sparsity"));
      String where = group.name() + " " + row.get("criterion") + " " + sparsity;
      double[] expected = doubles(row.get("scores"));
      double[] scores = criterion.scores(group, model.weights());
      double scale = Arrays.stream(expected).max().orElseThrow();
      for (int c = 0; c < expected.length; c++) {
        double difference = Math.abs(expected[c] - scores[c]) / scale;
        worstScore = Math.max(worstScore, difference);
        assertTrue(difference <= 1e-5, where + ": channel " + c + " scores " + scores[c] + ", PyTorch " + expected[c]);
      }
      int[] kept = criterion.keep(group, model.weights(), sparsity);
      assertEquals(row.get("kept"), String.join(" ", Arrays.stream(kept).mapToObj(Integer::toString).toList()),
          where + ": kept");
      String key = row.get("criterion") + " " + sparsity;
      selections.computeIfAbsent(key, k -> new LinkedHashMap<>()).put(group.id(), kept);
      firstRow.putIfAbsent(key, row);
    }
    for (Map.Entry<String, Map<Integer, int[]>> e : selections.entrySet()) {
      assertEquals(structure.prunableGroups().size(), e.getValue().size(), e.getKey() + ": groups");
      ChannelSelection selection = ChannelSelection.of(e.getValue());
      Map<String, WeightTensor> biases = compensation.biases(structure.groups(), selection, model.weights(),
          statistics);
      for (Map<String, String> row : reference) {
        if (!(row.get("criterion") + " " + row.get("sparsity")).equals(e.getKey())) {
          continue;
        }
        double[] want = doubles(row.get("compensated"));
        WeightTensor bias = biases.get(row.get("bias"));
        assertTrue(bias != null, e.getKey() + ": no compensated " + row.get("bias") + " among " + biases.keySet());
        float[] got = bias.toArray();
        double biasScale = Arrays.stream(want).map(Math::abs).max().orElseThrow();
        for (int o = 0; o < want.length; o++) {
          double difference = Math.abs(want[o] - got[o]) / biasScale;
          worstBias = Math.max(worstBias, difference);
          assertTrue(difference <= 1e-5, e.getKey() + ": " + row.get("bias") + "[" + o + "] " + got[o]
              + ", PyTorch " + want[o]);
        }
      }
      String tag = e.getKey().replace(' ', '-');
      for (boolean on : new boolean[] {true, false}) {
        Map<String, WeightTensor> used = on ? biases : Map.of();
        String shrunkFile = dir.resolve(tag + "-" + on + "-shrunk.onnx").toString();
        BiasCompensation.shrink(structure, selection, used).writeOnnx(shrunkFile, CONF);
        float[] shrunkLogits = TransformerModels.runLm(shrunkFile, rows);
        double perplexity = perplexity(shrunkLogits, rows);
        double want = Double.parseDouble(firstRow.get(e.getKey()).get(on ? "perplexity" : "perplexity_plain"));
        assertEquals(want, perplexity, 1e-4 * want, e.getKey() + " compensated " + on + ": perplexity");
        if (on) {
          String maskedFile = dir.resolve(tag + "-masked.onnx").toString();
          Map<String, WeightTensor> masked = new LinkedHashMap<>(biases);
          masked.putAll(selection.masks(structure).apply(BiasCompensation.apply(model.weights(), biases)));
          PrunedModelWriter.writeOnnx(model, masked, maskedFile, CONF);
          double difference = maxDifference(TransformerModels.runLm(maskedFile, rows), shrunkLogits);
          worstShrunk = Math.max(worstShrunk, difference);
          assertTrue(difference <= 1e-4, e.getKey() + ": compensated shrunk and masked logits differ by " + difference);
        }
        System.out.printf("tiny-lm %s compensated %s: perplexity %.4f (PyTorch %.4f)%n", e.getKey(), on, perplexity,
            want);
      }
    }
    assertEquals(6, selections.size());
    System.out.printf("tiny-lm: largest differences from PyTorch: scores %.2e, biases %.2e; shrunk against masked"
        + " %.2e%n", worstScore, worstBias, worstShrunk);
  }

  /**
   * MiniLM (MatMul with an [in, out] initializer, then Add): both activation-aware criteria score
   * every prunable head and neuron group from the statistics of three sentences, no group's
   * compensation is blocked, and with half of every group removed the compensated shrunk model's
   * last_hidden_state equals the compensated masked model's within 1e-4 (ONNX Runtime), while the
   * compensated biases differ from the dense ones.
   */
  @Test
  void miniLmCompensatedShrunkEqualsCompensatedMasked() throws Exception {
    OnnxModel model = TransformerModels.miniLm();
    ModelStructure structure = ModelStructure.analyse(model);
    List<ChannelGroup> groups = structure.prunableGroups();
    assertTrue(groups.size() >= 12, "prunable groups: " + groups.size());
    Map<String, InputStatistics> statistics = miniLmStatistics(model);
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    for (ChannelGroup g : groups) {
      assertTrue(compensation.blocker(g.id()).isEmpty(), g.name() + ": " + compensation.blocker(g.id()));
    }
    long[][] sentences = TransformerModels.sentences();
    for (String name : List.of("channel-fluctuation", "channel-wanda")) {
      ChannelCriterion criterion = ((ChannelCriterion) Criteria.byName(name)).withStatistics(statistics);
      Map<Integer, Double> sparsities = new LinkedHashMap<>();
      for (ChannelGroup g : groups) {
        double[] scores = criterion.scores(g, model.weights());
        assertEquals(g.channels(), scores.length, g.name());
        assertTrue(Arrays.stream(scores).allMatch(v -> Double.isFinite(v) && v >= 0), g.name() + ": scores");
        sparsities.put(g.id(), 0.5);
      }
      ChannelSelection selection = criterion.selection(structure.groups(), sparsities, model.weights());
      Map<String, WeightTensor> biases = compensation.biases(structure.groups(), selection, model.weights(),
          statistics);
      assertEquals(groups.size(), biases.size(), "compensated biases: " + biases.keySet());
      double moved = 0;
      for (WeightTensor b : biases.values()) {
        float[] dense = model.weight(b.name()).toArray();
        float[] now = b.toArray();
        for (int o = 0; o < now.length; o++) {
          moved = Math.max(moved, Math.abs(now[o] - dense[o]));
        }
      }
      assertTrue(moved > 1e-3, name + ": compensation moved the biases by at most " + moved);
      String shrunkFile = dir.resolve("minilm-" + name + "-shrunk.onnx").toString();
      String maskedFile = dir.resolve("minilm-" + name + "-masked.onnx").toString();
      BiasCompensation.shrink(structure, selection, biases).writeOnnx(shrunkFile, CONF);
      Map<String, WeightTensor> masked = new LinkedHashMap<>(biases);
      masked.putAll(selection.masks(structure).apply(BiasCompensation.apply(model.weights(), biases)));
      PrunedModelWriter.writeOnnx(model, masked, maskedFile, CONF);
      double difference = maxDifference(TransformerModels.runMiniLm(maskedFile, sentences),
          TransformerModels.runMiniLm(shrunkFile, sentences));
      System.out.printf("MiniLM %s, half of every group, compensated: shrunk against masked %.2e, biases moved up to"
          + " %.3f%n", name, difference, moved);
      assertTrue(difference <= 1e-4, name + ": compensated shrunk and masked outputs differ by " + difference);
    }
  }

  private static Map<String, InputStatistics> miniLmStatistics(OnnxModel model) {
    ConsumerInputs inputs = ConsumerInputs.of(model, PrunableTensors.find(model));
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of())) {
      Batch batch;
      try (SequenceBatchBuilder builder = new SequenceBatchBuilder(List.of(
          new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64),
          new SequenceBatchBuilder.Input("attention_mask", BatchInput.ElementType.INT64),
          new SequenceBatchBuilder.Input("token_type_ids", BatchInput.ElementType.INT64)),
          "input_ids", "attention_mask", 3, allocator)) {
        for (long[] padded : TransformerModels.sentences()) {
          long[] ids = Arrays.stream(padded).filter(v -> v != 0).toArray();
          long[] ones = new long[ids.length];
          Arrays.fill(ones, 1);
          builder.add(new long[][] {ids, ones, new long[ids.length]}, null);
        }
        batch = builder.build();
      }
      try (batch) {
        return inputs.byTensor(ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(), GramOptions.none()));
      }
    }
  }

  /** The consumer inputs' statistics on the first {@code count} validation rows, 16 per batch, merged in order. */
  static Map<String, InputStatistics> statistics(OnnxModel model, int count) {
    ConsumerInputs inputs = ConsumerInputs.of(model, PrunableTensors.find(model));
    long[][] rows = TransformerModels.lmRows(count);
    ChunkStatistics total = null;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of())) {
      List<Batch> batches = new ArrayList<>();
      try (SequenceBatchBuilder builder = new SequenceBatchBuilder(
          List.of(new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64)), "input_ids", null, 16,
          allocator)) {
        for (long[] row : rows) {
          builder.add(new long[][] {row}, null);
          if (builder.isFull()) {
            batches.add(builder.build());
          }
        }
      }
      try {
        for (Batch batch : batches) {
          ChunkStatistics chunk = ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(), GramOptions.none());
          total = total == null ? chunk : total.plus(chunk);
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    return inputs.byTensor(total);
  }

  /** Perplexity of next-token prediction: float64 log-softmax of the float32 logits, the last position scoring nothing. */
  static double perplexity(float[] logits, long[][] rows) {
    int length = rows[0].length;
    int vocab = logits.length / (rows.length * length);
    double nll = 0;
    long tokens = 0;
    for (int r = 0; r < rows.length; r++) {
      for (int t = 0; t + 1 < length; t++) {
        int base = (r * length + t) * vocab;
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
          max = Math.max(max, logits[base + v]);
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
          sum += Math.exp(logits[base + v] - max);
        }
        nll -= logits[base + (int) rows[r][t + 1]] - max - Math.log(sum);
        tokens++;
      }
    }
    return Math.exp(nll / tokens);
  }

  static double maxDifference(float[] a, float[] b) {
    assertEquals(a.length, b.length, "output sizes");
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    return worst;
  }

  private static double[] doubles(String text) {
    return Arrays.stream(text.split(" ")).mapToDouble(Double::parseDouble).toArray();
  }
}
