package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.fixtures.SampleData;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** Groups of repeated layers share a signature; groups that cost differently do not. */
class GroupSignatureTest {

  /** The prunable groups' names by signature, in graph order. */
  private static List<List<String>> alike(ModelStructure structure) {
    Map<Integer, String> signatures = GroupSignature.of(structure, ChannelCost.of(structure));
    Map<String, List<String>> classes = new LinkedHashMap<>();
    for (ChannelGroup g : structure.prunableGroups()) {
      classes.computeIfAbsent(signatures.get(g.id()), k -> new ArrayList<>()).add(g.name());
    }
    return List.copyOf(classes.values());
  }

  @Test
  void miniLmsSixBlocksMakeTwoSignaturesOfSixGroups() {
    ModelStructure miniLm = ModelStructure.analyse(TransformerModels.miniLm());
    List<List<String>> classes = alike(miniLm);
    assertEquals(2, classes.size(), classes.toString());
    for (List<String> c : classes) {
      assertEquals(6, c.size(), c.toString());
    }
    // one of heads (12 channels, with Reshape edits), one of FFN neurons (1536, none)
    List<Long> channels = classes.stream()
        .map(c -> miniLm.group(c.get(0)).orElseThrow().channels()).sorted().toList();
    assertEquals(List.of(12L, 1536L), channels);
  }

  @Test
  void theSampleLmsBlocksAreAlikeKindByKind() {
    ModelStructure lm = ModelStructure.analyse(TransformerModels.tinyLm());
    assertEquals(List.of(
        List.of("blocks.0.attn.q_proj.weight+blocks.0.attn.k_proj.weight+blocks.0.attn.v_proj.weight",
            "blocks.1.attn.q_proj.weight+blocks.1.attn.k_proj.weight+blocks.1.attn.v_proj.weight"),
        List.of("blocks.0.mlp.up.weight", "blocks.1.mlp.up.weight")), alike(lm));
  }

  @Test
  void theCnnsGroupsAllDiffer() {
    ModelStructure cnn = ModelStructure.analyse(OnnxModel.load(
        ModelSource.onnx(SampleData.path("digits-cnn.onnx")), new Configuration()));
    List<List<String>> classes = alike(cnn);
    assertEquals(cnn.prunableGroups().size(), classes.size(), classes.toString());
  }

  @Test
  void groupsOfOneSignatureLoseTheSameParametersAndMultiplyAccumulates() {
    for (ModelStructure structure : List.of(ModelStructure.analyse(TransformerModels.miniLm()),
        ModelStructure.analyse(TransformerModels.tinyLm()), ModelStructure.analyse(OnnxModel.load(
            ModelSource.onnx(SampleData.path("digits-resnet.onnx")), new Configuration())))) {
      ChannelCost cost = ChannelCost.of(structure);
      Map<Integer, String> signatures = GroupSignature.of(structure, cost);
      for (ChannelGroup a : structure.prunableGroups()) {
        for (ChannelGroup b : structure.prunableGroups()) {
          if (signatures.get(a.id()).equals(signatures.get(b.id()))) {
            for (long kept : new long[] {1, a.channels() / 2}) {
              assertEquals(cost.macs(Map.of(a.id(), kept)), cost.macs(Map.of(b.id(), kept)), a.name());
              assertEquals(cost.parameters(Map.of(a.id(), kept)), cost.parameters(Map.of(b.id(), kept)), a.name());
            }
          }
        }
      }
    }
  }
}
