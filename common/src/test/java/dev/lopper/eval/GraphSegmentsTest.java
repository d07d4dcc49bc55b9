package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.calibration.CapturedValue;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.data.Batch;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/**
 * Sequential calibration's segments on the sample language model (groups: block 0, block 1, the LM
 * head): each step's values, computed from the previous step's frontier with the earlier groups
 * pruned, equal those the whole graph computes from the tokens with the same weights; and the
 * advances together compute each node of the graph at most once.
 */
class GraphSegmentsTest {

  private static List<List<PrunableTensor>> blocks(List<PrunableTensor> tensors) {
    List<List<PrunableTensor>> groups = new ArrayList<>();
    for (String prefix : List.of("blocks.0.", "blocks.1.", "lm_head")) {
      groups.add(tensors.stream().filter(t -> t.name().startsWith(prefix)).toList());
    }
    assertEquals(tensors.size(), groups.stream().mapToInt(List::size).sum());
    return groups;
  }

  private static GraphSegments segments(OnnxModel model, List<List<PrunableTensor>> groups) {
    return GraphSegments.of(model, groups.stream().map(g -> g.stream().map(PrunableTensor::name).toList()).toList(),
        groups.stream().map(g -> ConsumerInputs.of(model, g).values()).toList());
  }

  @Test
  void frontiersHoldOnlyValuesThatLaterGroupsCannotChange() {
    OnnxModel model = LanguageModelReferenceTest.model();
    List<List<PrunableTensor>> groups = blocks(PrunableTensors.find(model));
    GraphSegments segments = segments(model, groups);
    assertEquals(3, segments.steps());
    assertTrue(segments.frontier(0).isEmpty());
    for (int g = 1; g < segments.steps(); g++) {
      assertFalse(segments.frontier(g).isEmpty(), "step " + g);
      // Nothing downstream of a later group's weights is held at step g.
      Set<String> later = new HashSet<>();
      for (int h = g; h < groups.size(); h++) {
        groups.get(h).forEach(t -> later.add(t.name()));
      }
      Set<String> changed = new HashSet<>(later);
      for (Onnx.NodeProto node : model.nodes()) {
        if (GraphCut.reads(node).stream().anyMatch(changed::contains)) {
          changed.addAll(node.getOutputList());
        }
      }
      for (String v : segments.frontier(g)) {
        assertFalse(changed.contains(v), v + " at step " + g + " depends on a later group's weights");
      }
    }
    // The last group, the LM head, reads the final LayerNorm's output: held, nothing to capture.
    assertEquals(List.of(), segments.captured(2));
    assertTrue(segments.frontier(2).containsAll(segments.targets(2)));
    // Each node is advanced at most once over the whole sequence.
    Set<String> advancedNodes = new HashSet<>();
    int total = 0;
    for (int g = 1; g < segments.steps(); g++) {
      Onnx.ModelProto part = segments.advance(g, typesOnly(model, segments.frontier(g - 1)));
      for (Onnx.NodeProto node : part.getGraph().getNodeList()) {
        total++;
        advancedNodes.add(node.getName() + node.getOutput(0));
      }
    }
    assertEquals(total, advancedNodes.size(), "no node advanced twice");
    assertTrue(total < model.nodes().size());
  }

  @Test
  void eachStepCapturesWhatTheWholeGraphCapturesWithTheSameWeights() {
    OnnxModel model = LanguageModelReferenceTest.model();
    List<List<PrunableTensor>> groups = blocks(PrunableTensors.find(model));
    GraphSegments segments = segments(model, groups);
    Map<String, WeightTensor> pruned = new LinkedHashMap<>();
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = LanguageModelReferenceTest.batches("tiny-lm-val.parquet", 8, allocator);
      try {
        Batch batch = batches.get(0);
        Map<String, HeldValue> frontier = Map.of();
        for (int g = 0; g < segments.steps(); g++) {
          if (g > 0) {
            try (ActivationCapture advance = ActivationCapture.segment(evaluator, segments.advanced(g),
                segments.advance(g, frontier), pruned)) {
              Map<String, HeldValue> computed = advance.compute(batch, frontier);
              Map<String, HeldValue> next = new LinkedHashMap<>();
              for (String v : segments.frontier(g)) {
                next.put(v, computed.containsKey(v) ? computed.get(v) : frontier.get(v));
              }
              frontier = next;
            }
          }
          List<String> targets = ConsumerInputs.of(model, groups.get(g)).values().stream().toList();
          try (ActivationCapture fromSegments = ActivationCapture.segment(evaluator, targets,
                  segments.capture(g, frontier), pruned);
              ActivationCapture whole = new ActivationCapture(evaluator, targets, pruned)) {
            Map<String, CapturedValue> a = fromSegments.run(batch, frontier);
            Map<String, CapturedValue> b = whole.run(batch);
            for (String v : targets) {
              ActivationCaptureTest.assertClose(b.get(v).toArray(), a.get(v).toArray(), "step " + g + ", " + v);
            }
          }
          // Prune the group (every third weight zeroed) for the steps after it.
          for (PrunableTensor t : groups.get(g)) {
            float[] w = model.weight(t.name()).toArray();
            for (int i = 0; i < w.length; i += 3) {
              w[i] = 0;
            }
            pruned.put(t.name(), WeightTensor.of(t.name(), t.shape(), w));
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void aStepWithNothingToComputeHasNoPart() {
    OnnxModel model = LanguageModelReferenceTest.model();
    List<List<PrunableTensor>> groups = blocks(PrunableTensors.find(model));
    GraphSegments segments = segments(model, groups);
    assertNull(segments.capture(2, typesOnly(model, segments.frontier(2))));
  }

  /** Held values of the right type and rank for the frontier (float32 activations [rows, positions, width]). */
  private static Map<String, HeldValue> typesOnly(OnnxModel model, List<String> values) {
    Map<String, HeldValue> out = new HashMap<>();
    try (Evaluator evaluator = new Evaluator(model); BufferAllocator allocator = new RootAllocator()) {
      List<Batch> batches = LanguageModelReferenceTest.batches("tiny-lm-val.parquet", 2, allocator);
      try {
        Set<String> computed = new HashSet<>(values);
        if (!computed.isEmpty()) {
          try (ActivationCapture capture = ActivationCapture.segment(evaluator, values,
              GraphCut.computing(model, computed), Map.of())) {
            out.putAll(capture.compute(batches.get(0), Map.of()));
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    return out;
  }
}
