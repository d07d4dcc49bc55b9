package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProbeGroupsTest {
  @TempDir Path dir;

  @Test
  void groupsEveryTensorOnceInGraphOrder() {
    for (OnnxModel model : List.of(SmallOnnxModels.mlp(dir), SmallOnnxModels.cnn(dir),
        SmallOnnxModels.concat(dir), SmallOnnxModels.matMulMlp(dir))) {
      List<GraphCut> cuts = cutsOf(model);
      List<GraphCut> reversed = new ArrayList<>(cuts);
      Collections.reverse(reversed);
      List<List<GraphCut>> groups = ProbeGroups.of(reversed);
      List<Integer> starts = new ArrayList<>();
      List<GraphCut> flat = new ArrayList<>();
      for (List<GraphCut> group : groups) {
        assertTrue(!group.isEmpty(), model + ": " + groups);
        for (GraphCut cut : group) {
          flat.add(cut);
          starts.add(model.nodes().indexOf(cut.suffixNodes().get(0)));
        }
      }
      assertEquals(Set.copyOf(cuts), Set.copyOf(flat), model.toString());
      assertEquals(cuts.size(), flat.size(), model.toString());
      List<Integer> sorted = new ArrayList<>(starts);
      Collections.sort(sorted);
      assertEquals(sorted, starts, model + ": groups " + groups);
    }
  }

  @Test
  void groupsCostTheLeastOfAllRunsInGraphOrder() {
    // The concat model's tensors a, b, c, fc have suffixes of 8, 8, 5 and 1 nodes, a's and b's
    // together 10: probing a and b on their joint cut (3 sessions of 10 nodes) beats probing them
    // apart (2 × 8 + 2 × 8).
    for (OnnxModel model : List.of(SmallOnnxModels.concat(dir), SmallOnnxModels.mlp(dir),
        SmallOnnxModels.cnn(dir), SmallOnnxModels.matMulMlp(dir), SmallOnnxModels.deadBranch(dir))) {
      List<GraphCut> cuts = cutsOf(model);
      cuts.sort(Comparator.comparingInt(c -> model.nodes().indexOf(c.suffixNodes().get(0))));
      long least = Long.MAX_VALUE;
      for (int split = 0; split < 1 << (cuts.size() - 1); split++) {
        List<List<GraphCut>> groups = new ArrayList<>();
        groups.add(new ArrayList<>(List.of(cuts.get(0))));
        for (int i = 1; i < cuts.size(); i++) {
          if ((split & 1 << (i - 1)) != 0) {
            groups.add(new ArrayList<>());
          }
          groups.get(groups.size() - 1).add(cuts.get(i));
        }
        least = Math.min(least, cost(groups));
      }
      assertEquals(least, cost(ProbeGroups.of(cuts)), model.toString());
    }
    List<List<GraphCut>> concat = ProbeGroups.of(cutsOf(SmallOnnxModels.concat(dir)));
    assertEquals(List.of("a.weight", "b.weight"), List.copyOf(concat.get(0).stream()
        .map(c -> c.weights().first()).toList()));
  }

  /** Sessions' nodes: per group, its tensors and the dense suffix times the joint suffix's nodes. */
  private static long cost(List<List<GraphCut>> groups) {
    long sum = 0;
    for (List<GraphCut> group : groups) {
      Set<Onnx.NodeProto> joint = Collections.newSetFromMap(new IdentityHashMap<>());
      group.forEach(c -> joint.addAll(c.suffixNodes()));
      sum += (group.size() + 1L) * joint.size();
    }
    return sum;
  }

  private static List<GraphCut> cutsOf(OnnxModel model) {
    List<GraphCut> cuts = new ArrayList<>();
    for (PrunableTensor t : PrunableTensors.find(model)) {
      cuts.add(GraphCut.of(model, Set.of(t.name())));
    }
    return cuts;
  }

  @Test
  void noCutsNoGroups() {
    assertEquals(List.of(), ProbeGroups.of(List.of()));
  }
}
