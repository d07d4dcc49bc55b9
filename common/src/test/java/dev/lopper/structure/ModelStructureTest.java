package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.io.Table;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.structure.ChannelGroup.Member;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Channel groups found in the graphs, against the dependencies written out by hand from the models'
 * definitions (data/make_samples.py, {@link SmallOnnxModels}).
 */
class ModelStructureTest {
  @TempDir Path dir;

  private static ModelStructure sample(String name) {
    return ModelStructure.analyse(OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")),
        new Configuration()));
  }

  /** Members as "tensor role axis offset block", the node left out. */
  private static List<String> members(ChannelGroup group) {
    return group.members().stream().map(ModelStructureTest::describe).toList();
  }

  private static String describe(Member m) {
    return m.tensor() + " " + m.role().name().toLowerCase() + " " + m.axis() + " " + m.offset() + " " + m.block();
  }

  private static List<String> bn(String name) {
    return List.of(name + ".weight parameter 0 0 1", name + ".bias parameter 0 0 1",
        name + ".running_mean parameter 0 0 1", name + ".running_var parameter 0 0 1");
  }

  private static List<String> concat(List<?>... parts) {
    return java.util.Arrays.stream(parts).flatMap(List::stream).map(Object::toString).toList();
  }

  @Test
  void cnnGroupsRunThroughBatchNormIntoTheNextConvAndThroughFlattenIntoGemmColumns() {
    ModelStructure cnn = sample("digits-cnn");
    assertEquals(4, cnn.groups().size());
    ChannelGroup conv1 = cnn.group("conv1.weight").orElseThrow();
    assertEquals(8, conv1.channels());
    assertEquals(concat(List.of("conv1.weight output 0 0 1", "conv1.bias parameter 0 0 1"), bn("bn1"),
        List.of("conv2.weight input 1 0 1")), members(conv1));
    ChannelGroup conv2 = cnn.group("conv2.weight").orElseThrow();
    // MaxPool halves 8x8 to 4x4, so each of the 16 channels is 16 consecutive columns of fc1.
    assertEquals(concat(List.of("conv2.weight output 0 0 1", "conv2.bias parameter 0 0 1"), bn("bn2"),
        List.of("fc1.weight input 1 0 16")), members(conv2));
    ChannelGroup fc1 = cnn.group("fc1.weight").orElseThrow();
    assertEquals(List.of("fc1.weight output 0 0 1", "fc1.bias parameter 0 0 1", "fc2.weight input 1 0 1"),
        members(fc1));
    assertTrue(conv1.prunable() && conv2.prunable() && fc1.prunable());
    ChannelGroup fc2 = cnn.group("fc2.weight").orElseThrow();
    assertFalse(fc2.prunable());
    assertEquals("its channels reach graph output logits, whose shape is part of the model's interface",
        fc2.reason());
  }

  @Test
  void mlpGroupsTieEachLayersRowsToTheNextLayersColumns() {
    ModelStructure mlp = sample("digits-mlp");
    assertEquals(List.of("fc1.weight", "fc2.weight"), mlp.prunableGroups().stream().map(ChannelGroup::name).toList());
    assertEquals(List.of("fc1.weight output 0 0 1", "fc1.bias parameter 0 0 1", "fc2.weight input 1 0 1"),
        members(mlp.group(0)));
    assertEquals(64, mlp.group(0).channels());
    assertEquals(List.of("fc2.weight output 0 0 1", "fc2.bias parameter 0 0 1", "fc3.weight input 1 0 1"),
        members(mlp.group(1)));
    assertFalse(mlp.group("fc3.weight").orElseThrow().prunable());
  }

  @Test
  void bothSidesOfTheResidualAddAreOneGroup() {
    ModelStructure resnet = sample("digits-resnet");
    assertEquals(3, resnet.groups().size());
    ChannelGroup residual = resnet.group(0);
    assertEquals("conv1.weight+conv3.weight", residual.name());
    assertEquals(16, residual.channels());
    assertTrue(residual.prunable(), residual.reason());
    assertEquals(concat(List.of("conv1.weight output 0 0 1", "conv3.weight output 0 0 1",
        "conv1.bias parameter 0 0 1"), bn("bn1"), List.of("conv2.weight input 1 0 1",
        "conv3.bias parameter 0 0 1"), bn("bn3"), List.of("fc.weight input 1 0 16")), members(residual));
    ChannelGroup inner = resnet.group("conv2.weight").orElseThrow();
    assertEquals(concat(List.of("conv2.weight output 0 0 1", "conv2.bias parameter 0 0 1"), bn("bn2"),
        List.of("conv3.weight input 1 0 1")), members(inner));
    assertEquals(List.of(residual, inner), resnet.groupsOf("conv3.weight"));
  }

  @Test
  void aReshapeThatMergesTheChannelAxisOutermostIsFollowedAndItsShapeEntryRecorded() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.reshapeAfterConv(dir));
    ChannelGroup conv = model.group("conv.weight").orElseThrow();
    assertTrue(conv.prunable(), conv.reason());
    // [N, 2, 4, 4] -> [-1, 32]: channel c is columns 16c .. 16c+15 of fc, and the 32 counts 16 per channel.
    assertEquals(List.of("conv.weight output 0 0 1", "conv.bias parameter 0 0 1", "fc.weight input 1 0 16"),
        members(conv));
    assertEquals(List.of(new ChannelGroup.ShapeEdit("reshape", 1, new long[] {-1, 32}, 1, 16, "reshape")),
        conv.shapeEdits());
  }

  @Test
  void symbolicSizesThatCannotBeSevenAreLeftUnknownInsteadOfFailingTheAnalysis() {
    // With H = W = 7 the 11x11 convolution would not fit (7 + 2 < 11): the analysis falls back to
    // unknown sizes, as before sequences had a stand-in size, and says what it could not know.
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.anySizeConv(dir));
    ChannelGroup conv = model.group("conv.weight").orElseThrow();
    assertEquals(List.of("the shape before node flatten (Flatten) is unknown, so the columns of each channel"
        + " after it are not known"), conv.blockers());
  }

  @Test
  void aReshapeBlocksTheGroupAndTheReportSaysWhy() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.reshapeMixingChannels(dir));
    ChannelGroup conv = model.group("conv.weight").orElseThrow();
    assertFalse(conv.prunable());
    assertEquals(List.of("node reshape (Reshape) reshapes [1, 2, 4, 4] to [1, 4, 8], which mixes the"
        + " channels' axis 1 with others"), conv.blockers());
    assertTrue(model.prunableGroups().isEmpty());

    Table table = model.report().table();
    assertEquals(List.of("tensor", "group", "group_name", "role", "axis", "channels", "prunable", "reason"),
        table.columns().stream().map(Table.Column::name).toList());
    List<List<Object>> convRows = table.rows().stream().filter(r -> r.get(2).equals("conv.weight")).toList();
    assertEquals(List.of("conv.weight", "conv.bias"), convRows.stream().map(r -> r.get(0)).toList());
    for (List<Object> row : convRows) {
      assertEquals(false, row.get(6));
      assertTrue(((String) row.get(7)).contains("reshape (Reshape)"), row.toString());
    }
    assertEquals(4, model.report().notPrunable().size());
  }

  @Test
  void theStructureTableNamesAnonymousTensorsByTheNodeThatReadsThem() {
    List<String> columns = List.of("tensor", "group", "group_name", "role", "axis", "channels", "prunable", "reason");
    Table named = ModelStructure.analyse(SmallOnnxModels.matMulMlp(dir)).report().table();
    assertEquals(columns, named.columns().stream().map(Table.Column::name).toList(),
        "no column for names of their own");

    Table table = ModelStructure.analyse(SmallOnnxModels.matMulMlp(dir, "onnx::MatMul_11", "fc2.weight",
        "/fc1/MatMul", "/fc2/MatMul")).report().table();
    List<String> withNode = new java.util.ArrayList<>(columns);
    withNode.add(1, "node");
    assertEquals(withNode, table.columns().stream().map(Table.Column::name).toList());
    Map<String, Object> nodes = new java.util.HashMap<>();
    table.rows().forEach(r -> nodes.put((String) r.get(0), r.get(1)));
    assertEquals("/fc1/MatMul", nodes.get("onnx::MatMul_11"));
    assertTrue(nodes.containsKey("fc2.weight") && nodes.get("fc2.weight") == null, nodes.toString());
    assertTrue(nodes.containsKey("b1") && nodes.get("b1") == null, nodes.toString());
  }

  @Test
  void aGroupedConvolutionBlocksBothItsInputAndItsOutputGroups() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.groupedConv(dir));
    String why = "node conv2 (Conv) is a grouped convolution (group=2), whose groups tie input and"
        + " output channels together";
    assertEquals(List.of(why), model.group("conv1.weight").orElseThrow().blockers());
    assertEquals(List.of(why), model.group("conv2.weight").orElseThrow().blockers());
  }

  @Test
  void aDepthwiseConvolutionGoesWithTheChannelsItReads() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.depthwise(dir));
    ChannelGroup conv1 = model.group("conv1.weight").orElseThrow();
    assertTrue(conv1.prunable(), conv1.reason());
    assertEquals(List.of("conv1.weight output 0 0 1", "conv1.bias parameter 0 0 1",
        "dw.weight parameter 0 0 1", "dw.bias parameter 0 0 1", "fc.weight input 1 0 16"), members(conv1));
  }

  @Test
  void concatenatedChannelsReachTheConsumerAtTheirOffsets() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.concat(dir));
    assertEquals(List.of("a.weight output 0 0 1", "a.bias parameter 0 0 1", "c.weight input 1 0 1"),
        members(model.group("a.weight").orElseThrow()));
    assertEquals(List.of("b.weight output 0 0 1", "b.bias parameter 0 0 1", "c.weight input 1 2 1"),
        members(model.group("b.weight").orElseThrow()));
    // GlobalAveragePool leaves one column per channel after Flatten.
    assertEquals(List.of("c.weight output 0 0 1", "c.bias parameter 0 0 1", "fc.weight input 1 0 1"),
        members(model.group("c.weight").orElseThrow()));
  }

  @Test
  void matMulWeightsGroupTheirColumnsWithTheBiasAddAndTheNextRows() {
    ModelStructure model = ModelStructure.analyse(SmallOnnxModels.matMulMlp(dir));
    assertEquals(List.of("w1 output 1 0 1", "b1 parameter 0 0 1", "w2 input 0 0 1"),
        members(model.group("w1").orElseThrow()));
    assertTrue(model.group("w1").orElseThrow().prunable());
    assertFalse(model.group("w2").orElseThrow().prunable());
  }
}
