package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.data.Batch;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ModelStructure;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A channel group swept as one item (its tensors replaced together, from the activations held at
 * the group's cut) gives the tallies of each masked model evaluated whole: bitwise on the MLP and
 * the CNN. On the residual model the suffix after a cut is not bitwise the whole model even for a
 * single tensor and the dense weights (measured: logits differ in the last bits, the loss sum by
 * about 1e-7), so there the counts are compared exactly and the sums within 1e-5.
 */
class GroupSweepTest {
  private static final double[] GRID = {0.1, 0.3, 0.5, 0.7, 0.9};

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64, true", "digits-cnn, 1 8 8, true", "digits-resnet, 1 8 8, false"})
  void groupSweepEqualsWholeModelEvaluationOfEachMaskedModel(String name, String shape, boolean bitwise) {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), new Configuration());
    ModelStructure structure = ModelStructure.analyse(model);
    CriterionContext context = CriterionContext.builder().optChannelGroups(structure.groups()).build();
    List<List<String>> items = structure.prunableGroups().stream().map(ChannelGroup::tensors).toList();
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(SensitivityReferenceTest.rowShape(shape), 64, allocator);
      try {
        TensorSweep held = TensorSweep.forItems(evaluator, batches, 10, items, TensorSweep.Options.defaults());
        TensorSweep full = new TensorSweep(evaluator, batches, 10, TensorSweep.Options.fullEvaluation());
        for (ChannelGroup group : structure.prunableGroups()) {
          List<WeightTensor> weights = group.tensors().stream().map(model::weight).toList();
          Tally[] swept = held.sweep(weights, Criteria.byName("channel-l1"), GRID, context);
          List<MaskSet> masks = Criteria.byName("channel-l1").selectGrid(weights, GRID, context);
          for (int s = 0; s < GRID.length; s++) {
            Tally whole = full.evaluate(masks.get(s).apply(model.weights()));
            String where = name + " " + group.name() + " at " + GRID[s];
            if (bitwise) {
              assertEquals(whole, swept[s], where);
            } else {
              assertEquals(whole.metrics().samples(), swept[s].metrics().samples(), where);
              assertEquals(whole.metrics().accuracy(), swept[s].metrics().accuracy(), where);
              assertEquals(whole.metrics().top5(), swept[s].metrics().top5(), where);
              assertEquals(whole.metrics().loss(), swept[s].metrics().loss(), 1e-5, where);
              assertEquals(whole.metrics().kl(), swept[s].metrics().kl(), 1e-5, where);
            }
          }
          assertNotEquals(held.baseline(), swept[GRID.length - 1], group.name() + " pruned changes nothing");
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }
}
