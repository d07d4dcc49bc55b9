package dev.lopper.jobs.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.fixtures.SampleData;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

class CalibrationGroupsTest {

  private static final Configuration CONF = new Configuration();

  private static OnnxModel tinyLm() {
    return OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"), SampleData.path("tiny-lm.safetensors")),
        CONF);
  }

  @Test
  void decoderBlocksInGraphOrderThenTheHead() {
    OnnxModel model = tinyLm();
    CalibrationGroups groups = CalibrationGroups.of(model, PrunableTensors.find(model), List.of());
    assertEquals(List.of("/blocks.0", "/blocks.1", "lm_head.weight"),
        groups.groups().stream().map(CalibrationGroups.Group::name).toList());
    assertEquals(List.of("blocks.0.attn.q_proj.weight", "blocks.0.attn.k_proj.weight", "blocks.0.attn.v_proj.weight",
        "blocks.0.attn.out_proj.weight", "blocks.0.mlp.up.weight", "blocks.0.mlp.down.weight"),
        groups.groups().get(0).tensors());
  }

  @Test
  void cutsSplitEachBlockIntoItsAttentionAndItsMlpAtTheResidualStream() {
    OnnxModel model = tinyLm();
    CalibrationGroups groups = CalibrationGroups.cuts(model, PrunableTensors.find(model));
    assertEquals(List.of(
        List.of("blocks.0.attn.q_proj.weight", "blocks.0.attn.k_proj.weight", "blocks.0.attn.v_proj.weight",
            "blocks.0.attn.out_proj.weight"),
        List.of("blocks.0.mlp.up.weight", "blocks.0.mlp.down.weight"),
        List.of("blocks.1.attn.q_proj.weight", "blocks.1.attn.k_proj.weight", "blocks.1.attn.v_proj.weight",
            "blocks.1.attn.out_proj.weight"),
        List.of("blocks.1.mlp.up.weight", "blocks.1.mlp.down.weight"),
        List.of("lm_head.weight")), groups.groups().stream().map(CalibrationGroups.Group::tensors).toList());
    // Each later group starts from a residual Add's output: the sum that every later path goes through.
    Map<String, String> producer = new HashMap<>();
    model.nodes().forEach(n -> n.getOutputList().forEach(o -> producer.put(o, n.getOpType())));
    assertEquals("start", groups.groups().get(0).name());
    for (CalibrationGroups.Group g : groups.groups().subList(1, 4)) {
      String value = g.name().substring("after ".length());
      assertEquals("Add", producer.get(value), g.name());
    }
    // The head reads the final LayerNorm's input through it: its cut is the last block's output.
    assertTrue(groups.groups().get(4).name().startsWith("after "), groups.groups().get(4).name());
  }

  @Test
  void blockFromTheNodePathOrTheTensorName() {
    assertEquals("/model/layers.3", CalibrationGroups.block(tensor("onnx::MatMul_9", "/model/layers.3/mlp/down_proj/MatMul")));
    assertEquals("/encoder/layer.11",
        CalibrationGroups.block(tensor("onnx::MatMul_1", "/encoder/layer.11/attention/self/query/MatMul")));
    assertEquals("h.2", CalibrationGroups.block(tensor("h.2.mlp.c_fc.weight", "MatMul_7")));
    assertEquals(null, CalibrationGroups.block(tensor("fc1.weight", "/fc1/Gemm")));
  }

  @Test
  void globsMakeGroupsAndTheRestStandAlone() {
    OnnxModel model = tinyLm();
    CalibrationGroups groups = CalibrationGroups.of(model, PrunableTensors.find(model),
        List.of("blocks.*.attn.*", "blocks.*.mlp.*"));
    assertEquals(List.of("blocks.*.attn.*", "blocks.*.mlp.*", "lm_head.weight"),
        groups.groups().stream().map(CalibrationGroups.Group::name).toList());
    assertEquals(8, groups.groups().get(0).tensors().size());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> CalibrationGroups.of(model, PrunableTensors.find(model), List.of("decoder.*")));
    assertTrue(e.getMessage().contains("calibration.groups: glob 'decoder.*' matches no prunable tensor"),
        e.getMessage());
  }

  private static PrunableTensor tensor(String name, String node) {
    return new PrunableTensor(name, "MatMul", node, new long[] {4, 4}, 16, 1, false);
  }
}
