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
import java.util.List;
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
