package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.structure.ChannelGroup.Member;
import dev.lopper.structure.ChannelGroup.ShapeEdit;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Head groups and FFN neuron groups of the two transformer fixtures, against the dependencies
 * written out by hand from their graphs: data/make_lm_sample.py's decoder exported by
 * torch.onnx.export (weights [out, in] read through Transpose, heads split by a Reshape whose shape
 * is built from Shape/Gather/Unsqueeze/Concat), and the real all-MiniLM-L6-v2 (weights [in, out],
 * opset 11, head counts as Constant [12]).
 */
class TransformerStructureTest {
  @TempDir java.nio.file.Path dir;

  private static List<String> members(ChannelGroup group) {
    return group.members().stream().map(TransformerStructureTest::describe).toList();
  }

  private static String describe(Member m) {
    return m.tensor() + " " + m.role().name().toLowerCase() + " " + m.axis() + " " + m.offset() + " " + m.block();
  }

  private static Set<String> edits(ChannelGroup group) {
    Set<String> out = new java.util.HashSet<>();
    for (ShapeEdit e : group.shapeEdits()) {
      out.add(e.reshape() + ": " + e.node() + " input " + e.input() + " "
          + java.util.Arrays.toString(e.values()) + "[" + e.position() + "] unit " + e.unit());
    }
    return out;
  }

  @Test
  void tinyLmHasOneHeadGroupAndOneNeuronGroupPerLayer() {
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    List<String> prunable = new ArrayList<>();
    for (int b = 0; b < 2; b++) {
      String a = "blocks." + b + ".attn.";
      String heads = a + "q_proj.weight+" + a + "k_proj.weight+" + a + "v_proj.weight";
      prunable.add(heads);
      prunable.add("blocks." + b + ".mlp.up.weight");
      ChannelGroup group = lm.group(heads).orElseThrow();
      assertTrue(group.prunable(), group.reason());
      // 4 heads of 16: rows 16h .. 16h+15 of q, k, v ([out, in], read transposed), their biases,
      // and the same 16 columns of out_proj.
      assertEquals(4, group.channels());
      assertEquals(List.of(a + "q_proj.weight output 0 0 16", a + "k_proj.weight output 0 0 16",
          a + "v_proj.weight output 0 0 16", a + "q_proj.bias parameter 0 0 16",
          a + "k_proj.bias parameter 0 0 16", a + "v_proj.bias parameter 0 0 16",
          a + "out_proj.weight input 1 0 16"), members(group));
      // The head count 4 of the three splits and the 64 (4 x 16) of the merge; the Constant 4
      // and 64 themselves are shared with the other layer, the Concat inputs are not.
      String n = "/blocks." + b + "/attn/";
      assertEquals(Set.of(
          n + "Reshape: " + n + "Concat input 2 [4][0] unit 1",
          n + "Reshape_1: " + n + "Concat_1 input 2 [4][0] unit 1",
          n + "Reshape_2: " + n + "Concat_2 input 2 [4][0] unit 1",
          n + "Reshape_3: " + n + "Concat_4 input 2 [64][0] unit 16"), edits(group));
      // The structure table lists them after the group's tensors: the Concat's input, role reshape,
      // the entry's position in the axis column.
      List<String> reshapeRows = lm.report().rows().stream()
          .filter(r -> r.group() == group.id() && r.role().equals(StructureReport.RESHAPE))
          .map(r -> r.node() + " " + r.axis() + " " + r.channels()).sorted().toList();
      assertEquals(List.of(n + "Concat 0 4", n + "Concat_1 0 4", n + "Concat_2 0 4", n + "Concat_4 0 4"),
          reshapeRows);
      assertTrue(lm.report().rows().stream().filter(r -> r.group() == group.id() && r.role().equals("reshape"))
          .allMatch(r -> !r.tensor().isEmpty()), "each names the shape input");

      String m = "blocks." + b + ".mlp.";
      ChannelGroup ffn = lm.group(m + "up.weight").orElseThrow();
      assertTrue(ffn.prunable(), ffn.reason());
      assertEquals(256, ffn.channels());
      assertEquals(List.of(m + "up.weight output 0 0 1", m + "up.bias parameter 0 0 1",
          m + "down.weight input 1 0 1"), members(ffn));
      assertTrue(ffn.shapeEdits().isEmpty());
    }
    assertEquals(prunable, lm.prunableGroups().stream().map(ChannelGroup::name).toList());

    // The residual stream (width 64) stays blocked: it starts at the embeddings, which no weight
    // of a group produces, and ends in the logits.
    assertEquals(List.of("node /blocks.0/Add (Add) joins the channels with /Add_output_0, whose"
        + " channels come from no traced weight"), lm.group("blocks.0.attn.out_proj.weight").orElseThrow().blockers());
    assertEquals(List.of("node /blocks.1/Add_1 (Add) joins the channels with /blocks.1/Add_output_0,"
        + " whose channels come from no traced weight"), lm.group("blocks.1.mlp.down.weight").orElseThrow().blockers());
    assertEquals(List.of("its channels reach graph output logits, whose shape is part of the model's interface"),
        lm.group("lm_head.weight").orElseThrow().blockers());
    assertEquals(9, lm.groups().size());
  }

  @Test
  void miniLmHasTwelveHeadsOfThirtyTwoAndFifteenHundredNeuronsPerLayer() {
    ModelStructure bert = ModelStructure.analyse(TransformerModels.miniLm());
    List<String> prunable = new ArrayList<>();
    for (int l = 0; l < 6; l++) {
      // From the graph: layer l's query, key, value, attention output, intermediate and output
      // MatMuls read onnx::MatMul_{787, 788, 791, 797, 798, 799} + 13 l, all stored [in, out].
      int base = 787 + 13 * l;
      String q = "onnx::MatMul_" + base;
      String k = "onnx::MatMul_" + (base + 1);
      String v = "onnx::MatMul_" + (base + 4);
      String out = "onnx::MatMul_" + (base + 10);
      String up = "onnx::MatMul_" + (base + 11);
      String down = "onnx::MatMul_" + (base + 12);
      String p = "encoder.layer." + l + ".";
      ChannelGroup heads = bert.group(q + "+" + k + "+" + v).orElseThrow();
      prunable.add(heads.name());
      assertTrue(heads.prunable(), heads.reason());
      assertEquals(12, heads.channels());
      assertEquals(List.of(q + " output 1 0 32", k + " output 1 0 32", v + " output 1 0 32",
          p + "attention.self.query.bias parameter 0 0 32", p + "attention.self.key.bias parameter 0 0 32",
          p + "attention.self.value.bias parameter 0 0 32", out + " input 0 0 32"), members(heads));
      String n = "/encoder/layer." + l + "/attention/self/";
      assertEquals(Set.of(
          n + "Reshape: " + n + "Concat input 2 [12][0] unit 1",
          n + "Reshape_1: " + n + "Concat_1 input 2 [12][0] unit 1",
          n + "Reshape_2: " + n + "Concat_2 input 2 [12][0] unit 1",
          n + "Reshape_3: " + n + "Concat_3 input 2 [384][0] unit 32"), edits(heads));

      ChannelGroup ffn = bert.group(up).orElseThrow();
      prunable.add(ffn.name());
      assertTrue(ffn.prunable(), ffn.reason());
      assertEquals(1536, ffn.channels());
      assertEquals(List.of(up + " output 1 0 1", p + "intermediate.dense.bias parameter 0 0 1",
          down + " input 0 0 1"), members(ffn));

      ChannelGroup hidden = bert.group(out).orElseThrow();
      assertFalse(hidden.prunable());
      String residual = l == 0 ? "/embeddings/LayerNorm/Add_1_output_0"
          : "/encoder/layer." + (l - 1) + "/output/LayerNorm/Add_1_output_0";
      assertEquals(List.of("node /encoder/layer." + l + "/attention/output/Add (Add) joins the channels"
          + " with " + residual + ", whose channels come from no traced weight"), hidden.blockers());
    }
    assertEquals(prunable, bert.prunableGroups().stream().map(ChannelGroup::name).toList());
    assertEquals(24, bert.groups().size());
  }

  /**
   * The sample LM with layer 0's query head count computed as {@code Shape(q)[2] / 16} instead of
   * the Constant 4: the analysis cannot rewrite that, so q's group blocks naming the nodes, and k
   * and v, left without the heads they must match, block at the attention MatMuls.
   */
  @Test
  void aHeadCountComputedFromTheChannelsBlocksTheHeadGroupNamingTheNode() {
    OnnxModel lm = TransformerModels.tinyLm();
    Onnx.GraphProto.Builder g = lm.graph().getGraph().toBuilder();
    String q = "/blocks.0/attn/q_proj/Add_output_0";
    int at = -1;
    for (int n = 0; n < g.getNodeCount(); n++) {
      if (g.getNode(n).getName().equals("/blocks.0/attn/Concat")) {
        at = n;
      }
    }
    Onnx.NodeProto concat = g.getNode(at);
    g.setNode(at, concat.toBuilder().setInput(2, "heads_computed"));
    g.addInitializer(Onnx.TensorProto.newBuilder().setName("two").setDataType(Onnx.TensorProto.DataType.INT64_VALUE)
        .addDims(1).addInt64Data(2));
    g.addInitializer(Onnx.TensorProto.newBuilder().setName("sixteen").setDataType(Onnx.TensorProto.DataType.INT64_VALUE)
        .addDims(1).addInt64Data(16));
    List<Onnx.NodeProto> added = List.of(
        Onnx.NodeProto.newBuilder().setName("q_shape").setOpType("Shape").addInput(q).addOutput("q_shape_out").build(),
        Onnx.NodeProto.newBuilder().setName("q_width").setOpType("Gather").addInput("q_shape_out").addInput("two")
            .addOutput("q_width_out").build(),
        Onnx.NodeProto.newBuilder().setName("q_heads").setOpType("Div").addInput("q_width_out").addInput("sixteen")
            .addOutput("heads_computed").build());
    for (int k = 0; k < added.size(); k++) {
      g.addNode(at + k, added.get(k)); // before the Concat, after q's Add
    }
    String file = dir.resolve("tiny-lm-computed-heads.onnx").toString();
    Configuration conf = new Configuration();
    PrunedModelWriter.writeOnnx(lm.graph().toBuilder().setGraph(g).build(), lm.weights(), file, conf);
    ModelStructure structure = ModelStructure.analyse(OnnxModel.load(ModelSource.onnx(file), conf));

    ChannelGroup heads = structure.group("blocks.0.attn.q_proj.weight").orElseThrow();
    assertFalse(heads.prunable());
    assertEquals(List.of("node q_shape (Shape) reads the shape of the channels' axis (read by q_width (Gather))",
        "the size 4 in the shape of node /blocks.0/attn/Reshape (Reshape) is computed (heads_computed), not a"
        + " constant Lopper can rewrite"), heads.blockers());
    // Without q's heads, k's and v's meet an operand of 4 heads they cannot match, and block too.
    assertEquals(List.of("node /blocks.0/attn/MatMul (MatMul) joins the channels on axis 1 with an operand"
        + " whose channels come from no traced weight"),
        structure.group("blocks.0.attn.k_proj.weight").orElseThrow().blockers());
    assertEquals(List.of("node /blocks.0/attn/MatMul_1 (MatMul) joins the channels on axis 1 with an operand"
        + " whose channels come from no traced weight"),
        structure.group("blocks.0.attn.v_proj.weight").orElseThrow().blockers());
    // The other layer and the FFNs are untouched.
    assertEquals(List.of("blocks.0.mlp.up.weight", "blocks.1.attn.q_proj.weight+blocks.1.attn.k_proj.weight"
        + "+blocks.1.attn.v_proj.weight", "blocks.1.mlp.up.weight"),
        structure.prunableGroups().stream().map(ChannelGroup::name).toList());
  }

  /**
   * data/fused-lm.onnx (data/make_fused_sample.py): q, k and v are one [32, 96] weight cut by
   * Split [32, 32, 32], so head h is columns 8h .. 8h+7 of each third; the MLP is SwiGLU, so gate
   * and up lose the same neurons.
   */
  @Test
  void aFusedProjectionGivesOneHeadGroupWithAnOffsetPerPartAndAGatedMlpOneNeuronGroup() {
    ModelStructure fused = ModelStructure.analyse(TransformerModels.fusedLm());
    ChannelGroup heads = fused.group("onnx::MatMul_124").orElseThrow();
    assertTrue(heads.prunable(), heads.reason());
    assertEquals(4, heads.channels());
    assertEquals(List.of("onnx::MatMul_124 output 1 0 8", "onnx::MatMul_124 output 1 32 8",
        "onnx::MatMul_124 output 1 64 8", "attn.qkv.bias parameter 0 0 8", "attn.qkv.bias parameter 0 32 8",
        "attn.qkv.bias parameter 0 64 8", "onnx::MatMul_132 input 0 0 8"), members(heads));
    assertEquals(Set.of(
        "/attn/Split: /attn/Split input 1 [32, 32, 32][0] unit 8",
        "/attn/Split: /attn/Split input 1 [32, 32, 32][1] unit 8",
        "/attn/Split: /attn/Split input 1 [32, 32, 32][2] unit 8",
        "/attn/Reshape: /attn/Concat input 2 [4][0] unit 1",
        "/attn/Reshape_1: /attn/Concat_1 input 2 [4][0] unit 1",
        "/attn/Reshape_2: /attn/Concat_2 input 2 [4][0] unit 1",
        "/attn/Reshape_3: /attn/Concat_3 input 2 [32][0] unit 8"), edits(heads));

    ChannelGroup mlp = fused.group("onnx::MatMul_133+onnx::MatMul_134").orElseThrow();
    assertTrue(mlp.prunable(), mlp.reason());
    assertEquals(48, mlp.channels());
    assertEquals(List.of("onnx::MatMul_133 output 1 0 1", "onnx::MatMul_134 output 1 0 1",
        "mlp.gate.bias parameter 0 0 1", "mlp.up.bias parameter 0 0 1", "onnx::MatMul_135 input 0 0 1"),
        members(mlp));
    assertEquals(List.of(heads.name(), mlp.name()), fused.prunableGroups().stream().map(ChannelGroup::name).toList());
  }
}
