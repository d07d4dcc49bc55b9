package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Transformers with heads and FFN neurons removed: the shrunk model (Reshape shapes rewritten)
 * computes what the dense model with every member of the removed heads and neurons masked computes
 * (both written to files and run by ONNX Runtime), passes onnx.checker with strict shape
 * inference, and, for the sample LM, gives the logits of PyTorch's own head-pruned model
 * (data/make_head_reference.py).
 */
class TransformerShrinkerTest {
  private static final double TOLERANCE = 1e-4;
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  private interface Runner {
    float[] run(String onnxFile) throws OrtException;
  }

  /** channel-l2 at {@code heads} on every head group and {@code neurons} on every FFN group. */
  private static ChannelSelection select(ModelStructure structure, double heads, double neurons) {
    Map<Integer, Double> sparsities = new LinkedHashMap<>();
    for (ChannelGroup g : structure.prunableGroups()) {
      double s = g.shapeEdits().isEmpty() ? neurons : heads;
      if (s > 0) {
        sparsities.put(g.id(), s);
      }
    }
    return ChannelCriterion.l2().selection(structure.groups(), sparsities, structure.model().weights());
  }

  /** Writes masked and shrunk models, checks the shrunk one, returns the largest output difference. */
  private double shrunkAgainstMasked(ModelStructure structure, ChannelSelection selection, Runner runner,
      String tag) throws OrtException {
    OnnxModel model = structure.model();
    MaskSet masks = selection.masks(structure);
    String masked = dir.resolve(tag + "-masked.onnx").toString();
    String shrunk = dir.resolve(tag + "-shrunk.onnx").toString();
    PrunedModelWriter.writeOnnx(model, masks.apply(model.weights()), masked, conf);
    ModelShrinker.shrink(structure, selection).writeOnnx(shrunk, conf);
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(shrunk);
      assertTrue(verdict.valid(), verdict.line());
    }
    float[] a = runner.run(masked);
    float[] b = runner.run(shrunk);
    return ModelOutputs.maxDifference(a, b);
  }

  @ParameterizedTest
  @CsvSource({"0.25, 0", "0.5, 0", "0.75, 0", "0, 0.25", "0, 0.5", "0, 0.75", "0.25, 0.5", "0.75, 0.75"})
  void shrunkSampleLmGivesTheMaskedLogits(double heads, double neurons) throws Exception {
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    long[][] rows = TransformerModels.lmRows(8);
    double difference = shrunkAgainstMasked(lm, select(lm, heads, neurons),
        f -> TransformerModels.runLm(f, rows), "lm");
    assertTrue(difference <= TOLERANCE, "heads " + heads + ", neurons " + neurons + ": logits differ by " + difference);
  }

  @ParameterizedTest
  @CsvSource({"0.25, 0", "0, 0.5", "0.5, 0.75"})
  void shrunkMiniLmGivesTheMaskedEmbeddings(double heads, double neurons) throws Exception {
    ModelStructure bert = ModelStructure.analyse(TransformerModels.miniLm());
    long[][] rows = TransformerModels.sentences();
    double difference = shrunkAgainstMasked(bert, select(bert, heads, neurons),
        f -> TransformerModels.runMiniLm(f, rows), "minilm");
    assertTrue(difference <= TOLERANCE, "heads " + heads + ", neurons " + neurons
        + ": hidden states differ by " + difference);
  }

  @ParameterizedTest
  @CsvSource({"0.25, 0", "0.5, 0.5", "0.75, 0.75"})
  void shrunkFusedProjectionAndGatedMlpGiveTheMaskedLogits(double heads, double neurons) throws Exception {
    ModelStructure fused = ModelStructure.analyse(TransformerModels.fusedLm());
    long[][] rows = new long[3][];
    for (int r = 0; r < rows.length; r++) {
      rows[r] = new long[11];
      for (int i = 0; i < rows[r].length; i++) {
        rows[r][i] = (7L * r + 5L * i + 3) % 32;
      }
    }
    double difference = shrunkAgainstMasked(fused, select(fused, heads, neurons),
        f -> TransformerModels.runLm(f, rows), "fused");
    assertTrue(difference <= TOLERANCE, "heads " + heads + ", neurons " + neurons + ": logits differ by " + difference);
  }

  @Test
  void shrunkSampleLmGivesPyTorchsHeadPrunedLogits() throws Exception {
    // The heads and neurons data/make_head_reference.py keeps.
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    Map<Integer, int[]> kept = new LinkedHashMap<>();
    kept.put(lm.group("blocks.0.attn.q_proj.weight+blocks.0.attn.k_proj.weight+blocks.0.attn.v_proj.weight")
        .orElseThrow().id(), new int[] {0, 2, 3});
    kept.put(lm.group("blocks.1.attn.q_proj.weight+blocks.1.attn.k_proj.weight+blocks.1.attn.v_proj.weight")
        .orElseThrow().id(), new int[] {1, 3});
    kept.put(lm.group("blocks.0.mlp.up.weight").orElseThrow().id(),
        IntStream.range(0, 256).filter(n -> n % 2 == 0).toArray());
    kept.put(lm.group("blocks.1.mlp.up.weight").orElseThrow().id(),
        IntStream.range(0, 256).filter(n -> n % 4 != 1).toArray());
    ShrunkModel shrunk = ModelShrinker.shrink(lm, ChannelSelection.of(kept));
    assertArrayEquals(new long[] {48, 64}, shrunk.weights().get("blocks.0.attn.q_proj.weight").shape());
    assertArrayEquals(new long[] {64, 32}, shrunk.weights().get("blocks.1.attn.out_proj.weight").shape());
    assertArrayEquals(new long[] {64, 192}, shrunk.weights().get("blocks.1.mlp.down.weight").shape());
    String file = dir.resolve("lm-heads.onnx").toString();
    shrunk.writeOnnx(file, conf);

    List<Map<String, String>> reference = ReferenceCsv.read("tiny-lm-heads-logits.csv");
    long[][] rows = TransformerModels.lmRows(4);
    float[] logits = TransformerModels.runLm(file, rows);
    float[] dense = TransformerModels.runLm(TransformerModels.tinyLm().source().onnxPath(), rows);
    double worst = 0;
    double moved = 0;
    for (Map<String, String> row : reference) {
      int id = Integer.parseInt(row.get("id"));
      int position = Integer.parseInt(row.get("position"));
      for (int v = 0; v < 256; v++) {
        int at = (id * 64 + position) * 256 + v;
        double expected = Double.parseDouble(row.get("logit" + v));
        worst = Math.max(worst, Math.abs(expected - logits[at]));
        moved = Math.max(moved, Math.abs(expected - dense[at]));
      }
    }
    assertEquals(24, reference.size());
    assertTrue(worst <= TOLERANCE, "shrunk logits differ from PyTorch's by " + worst);
    assertTrue(moved > 0.1, "removing the heads should change the logits; they moved by " + moved);
  }

  @Test
  void shrunkMiniLmGivesTheHiddenStatesOfBertWrittenOutInPyTorch() throws Exception {
    // The heads and neurons data/make_minilm_head_reference.py keeps: in layer l the heads h with
    // (h + l) % 3 != 0, and the even neurons of layers 0, 2 and 4.
    ModelStructure bert = ModelStructure.analyse(TransformerModels.miniLm());
    Map<Integer, int[]> kept = new LinkedHashMap<>();
    for (int l = 0; l < 6; l++) {
      int layer = l;
      int base = 787 + 13 * l;
      String heads = "onnx::MatMul_" + base + "+onnx::MatMul_" + (base + 1) + "+onnx::MatMul_" + (base + 4);
      kept.put(bert.group(heads).orElseThrow().id(), IntStream.range(0, 12).filter(h -> (h + layer) % 3 != 0).toArray());
      if (l % 2 == 0) {
        kept.put(bert.group("onnx::MatMul_" + (base + 11)).orElseThrow().id(),
            IntStream.range(0, 1536).filter(n -> n % 2 == 0).toArray());
      }
    }
    ShrunkModel shrunk = ModelShrinker.shrink(bert, ChannelSelection.of(kept));
    assertArrayEquals(new long[] {384, 256}, shrunk.weights().get("onnx::MatMul_787").shape());
    assertArrayEquals(new long[] {256, 384}, shrunk.weights().get("onnx::MatMul_797").shape());
    assertArrayEquals(new long[] {768, 384}, shrunk.weights().get("onnx::MatMul_799").shape());
    String file = dir.resolve("minilm-heads.onnx").toString();
    shrunk.writeOnnx(file, conf);

    long[][] rows = TransformerModels.sentences();
    float[] hidden = TransformerModels.runMiniLm(file, rows);
    float[] dense = TransformerModels.runMiniLm(TransformerModels.miniLmPath(), rows);
    List<Map<String, String>> reference = ReferenceCsv.read("minilm-heads-hidden.csv");
    assertEquals(12, reference.size());
    double worst = 0;
    double moved = 0;
    for (Map<String, String> row : reference) {
      int r = Integer.parseInt(row.get("row"));
      int position = Integer.parseInt(row.get("position"));
      for (int i = 0; i < 384; i++) {
        int at = (r * rows[0].length + position) * 384 + i;
        double expected = Double.parseDouble(row.get("h" + i));
        worst = Math.max(worst, Math.abs(expected - hidden[at]));
        moved = Math.max(moved, Math.abs(expected - dense[at]));
      }
    }
    assertTrue(worst <= TOLERANCE, "shrunk hidden states differ from PyTorch's by " + worst);
    assertTrue(moved > 0.1, "removing heads should change the hidden states; they moved by " + moved);
  }

  @Test
  void refusesToRemoveEveryHead() {
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    ChannelGroup heads = lm.prunableGroups().get(0);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ModelShrinker.shrink(lm, ChannelSelection.of(Map.of(heads.id(), new int[0]))));
    assertEquals("channel group 0 (" + heads.name() + ") would keep none of its 4 channels; keep at"
        + " least one", e.getMessage());
  }

  @Test
  void aSharedHeadCountConstantIsLeftAloneForTheOtherLayer() {
    // /blocks.0/attn/Constant_2 (4) also sizes layer 1's heads; cutting layer 0 to 2 heads must
    // leave layer 1 with 4.
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    ShrunkModel shrunk = ModelShrinker.shrink(lm, ChannelSelection.of(Map.of(0, new int[] {1, 2})));
    assertArrayEquals(new long[] {32, 64}, shrunk.weights().get("blocks.0.attn.k_proj.weight").shape());
    assertArrayEquals(new long[] {64, 64}, shrunk.weights().get("blocks.1.attn.k_proj.weight").shape());
    Map<String, long[]> shapes = ShapeInference.infer(shrunk.graph().getGraph(), 2, 5);
    assertArrayEquals(new long[] {2, 2, 5, 16}, shapes.get("/blocks.0/attn/Transpose_output_0"));
    assertArrayEquals(new long[] {2, 4, 5, 16}, shapes.get("/blocks.1/attn/Transpose_output_0"));
    assertArrayEquals(new long[] {2, 5, 32}, shapes.get("/blocks.0/attn/Reshape_3_output_0"));
    assertArrayEquals(new long[] {2, 5, 256}, shapes.get("logits"));
  }
}
