package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Prefix reuse changes nothing: for every prunable tensor of the sample models and every sparsity
 * of the grid, a {@link TensorSweep}'s tallies are bitwise those of the full evaluation; and
 * wherever a cut's dense suffix reproduces the dense logits (every cut of the MLP and CNN, all but
 * the residual block's on the resnet), every variant's suffix logits are bitwise ONNX Runtime's
 * logits of the whole pruned model.
 */
class PrefixReuseTest {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  /** Operators whose weight, fed as a graph input, runs the kernel of a constant one. */
  private static final Set<String> READ_BY_GEMM = Set.of("Gemm", "MatMul");
  /** Weights read as inputs whatever their size (the samples' are below the default threshold). */
  private static final EvaluatorOptions FED = EvaluatorOptions.defaults().withFedFromElements(0);

  /**
   * Where the dense suffix reproduces the dense logits, every variant's suffix logits are the full
   * model's. On the residual sample, ONNX Runtime's NCHWc layout fuses the skip Add into conv3 in
   * the whole model but not in suffixes that take the skip value as an input (conv2's and conv3's
   * cuts, where the logits differ by ~1e-6): {@link TensorSweep} detects that and evaluates those
   * variants on the whole model ({@link #sweepTalliesWithReuseEqualFullEvaluation}); only those
   * cuts may differ.
   */
  @ParameterizedTest
  @CsvSource({"digits-mlp, 64, ''", "digits-cnn, 1 8 8, ''", "digits-resnet, 1 8 8, conv2.weight conv3.weight"})
  void suffixLogitsAreBitwiseTheFullModels(String name, String shape, String mayDiffer) {
    OnnxModel model = load(name);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    int compared = 0;
    int skipped = 0;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, FED)) {
      List<Batch> batches = ValidationSet.batches(SensitivityReferenceTest.rowShape(shape), 64, allocator);
      try {
        List<Logits> dense = new ArrayList<>();
        try (VariantSession s = evaluator.dense()) {
          batches.forEach(b -> dense.add(s.logits(b)));
        }
        for (PrunableTensor t : tensors) {
          WeightTensor w = model.weight(t.name());
          List<MaskSet> masks = magnitude.selectGrid(List.of(w), GRID, context);
          try (PreparedCut cut = evaluator.cut(GraphCut.of(model, Set.of(t.name())))) {
            List<CutActivations> activations = new ArrayList<>();
            batches.forEach(b -> activations.add(cut.activations(b)));
            try {
              // The dense suffix on the cut activations is the dense model.
              boolean exact = true;
              try (VariantSession s = cut.variant(Map.of())) {
                for (int b = 0; b < batches.size(); b++) {
                  exact &= dense.get(b).equals(s.logits(activations.get(b)));
                }
              }
              if (!exact) {
                assertTrue(List.of(mayDiffer.split(" ")).contains(t.name()), t.name() + " dense suffix differs");
                skipped++;
                continue;
              }
              boolean changed = false;
              for (int g = 0; g < GRID.length; g++) {
                Map<String, WeightTensor> pruned = masks.get(g).apply(Map.of(t.name(), w));
                try (VariantSession full = evaluator.variant(pruned);
                    VariantSession suffix = cut.variant(pruned)) {
                  for (int b = 0; b < batches.size(); b++) {
                    Logits expected = full.logits(batches.get(b));
                    assertEquals(expected, suffix.logits(activations.get(b)),
                        name + " " + t.name() + " at " + GRID[g] + ", batch " + b);
                    if (READ_BY_GEMM.contains(t.opType())) {
                      // One session for every variant, the weight fed as an input: the same bits.
                      assertEquals(expected, cut.fedLogits(activations.get(b), pruned),
                          name + " " + t.name() + " fed at " + GRID[g] + ", batch " + b);
                    }
                    changed |= !expected.equals(dense.get(b));
                    compared++;
                  }
                }
              }
              assertTrue(changed, t.name() + ": no sparsity changed a logit");
            } finally {
              activations.forEach(CutActivations::close);
            }
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertEquals((tensors.size() - skipped) * GRID.length * 6, compared);
    assertTrue(skipped < tensors.size(), "some cut is exact");
  }

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64, true", "digits-cnn, 1 8 8, true", "digits-resnet, 1 8 8, true",
      "digits-mlp, 64, false", "digits-cnn, 1 8 8, false", "digits-resnet, 1 8 8, false"})
  void sweepTalliesWithReuseEqualFullEvaluation(String name, String shape, boolean fed) {
    OnnxModel model = load(name);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, fed ? FED : EvaluatorOptions.defaults())) {
      List<Batch> batches = ValidationSet.batches(SensitivityReferenceTest.rowShape(shape), 50, allocator);
      try {
        TensorSweep full = new TensorSweep(evaluator, batches, 10, TensorSweep.Options.fullEvaluation());
        TensorSweep reuse = new TensorSweep(evaluator, batches, 10);
        // No room for activations: one batch per chunk, suffix sessions rebuilt per chunk.
        TensorSweep chunked = new TensorSweep(evaluator, batches, 10,
            TensorSweep.Options.defaults().withActivationBytes(0));
        // Every tensor's cut activations held from the dense pass, then all but the last fitting.
        List<String> names = tensors.stream().map(PrunableTensor::name).toList();
        TensorSweep held = new TensorSweep(evaluator, batches, 10, names, TensorSweep.Options.defaults());
        TensorSweep partly = new TensorSweep(evaluator, batches, 10, names,
            TensorSweep.Options.defaults().withActivationBytes(held.heldBytes() - 1));
        assertTrue(reuse.options().prefixReuse());
        assertEquals(0, reuse.heldBytes());
        assertTrue(held.heldBytes() > partly.heldBytes() && partly.heldBytes() > 0,
            held.heldBytes() + " bytes held, " + partly.heldBytes() + " within a smaller budget");
        assertEquals(full.denseLogits(), held.denseLogits());
        assertEquals(full.baseline(), reuse.baseline());
        for (PrunableTensor t : tensors) {
          WeightTensor w = model.weight(t.name());
          Tally[] expected = full.sweep(w, magnitude, GRID, context);
          Map<String, Tally[]> actual = Map.of("per-sweep prefix", reuse.sweep(w, magnitude, GRID, context),
              "chunked", chunked.sweep(w, magnitude, GRID, context),
              "held", held.sweep(w, magnitude, GRID, context),
              "partly held", partly.sweep(w, magnitude, GRID, context));
          for (Map.Entry<String, Tally[]> e : actual.entrySet()) {
            for (int g = 0; g < GRID.length; g++) {
              assertEquals(expected[g], e.getValue()[g], name + " " + t.name() + " at " + GRID[g] + ", " + e.getKey());
            }
          }
          assertNotEquals(full.baseline(), expected[GRID.length - 1], t.name() + " at 0.9");
          if (fed && READ_BY_GEMM.contains(t.opType())) {
            // The fast route was taken: one session for all of the tensor's variants.
            for (TensorSweep s : List.of(reuse, chunked, held, partly)) {
              TensorSweep.ItemCost cost = s.costs().get(s.costs().size() - 1);
              assertEquals(List.of(t.name()), cost.item());
              assertEquals(TensorSweep.Route.FED_SUFFIX, cost.route(), name + " " + t.name());
            }
          }
          assertEquals(TensorSweep.Route.WHOLE_MODEL, full.costs().get(full.costs().size() - 1).route());
        }
        // Several tensors replaced at once (global pruning): cut at the first consumer.
        List<WeightTensor> weights = tensors.stream().map(t -> model.weight(t.name())).toList();
        MaskSet global = Criteria.byName("global-magnitude").select(weights, 0.7, context);
        Map<String, WeightTensor> all = global.apply(model.weights());
        assertEquals(full.evaluate(all), reuse.evaluate(all), name + " global 0.7");
        String last = tensors.get(tensors.size() - 1).name();
        String beforeLast = tensors.get(tensors.size() - 2).name();
        Map<String, WeightTensor> two = Map.of(last, all.get(last), beforeLast, all.get(beforeLast));
        assertEquals(full.evaluate(two), reuse.evaluate(two), name + " " + two.keySet() + " at 0.7");
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void suffixSessionsRefuseBatchesAndForeignActivations() {
    OnnxModel model = load("digits-mlp");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        PreparedCut fc2 = evaluator.cut(GraphCut.of(model, Set.of("fc2.weight")));
        PreparedCut fc3 = evaluator.cut(GraphCut.of(model, Set.of("fc3.weight")));
        VariantSession suffix = fc2.variant(Map.of());
        VariantSession whole = evaluator.dense()) {
      List<Batch> batches = ValidationSet.batches(new long[] {64}, 360, allocator);
      try (CutActivations a3 = fc3.activations(batches.get(0))) {
        assertThrows(IllegalStateException.class, () -> suffix.logits(batches.get(0)));
        assertThrows(IllegalArgumentException.class, () -> suffix.logits(a3));
        assertThrows(IllegalArgumentException.class, () -> whole.logits(a3));
        // fc1 lies before the cut at fc2: replacing it there would be silently ignored.
        assertThrows(IllegalArgumentException.class, () -> fc2.variant(
            Map.of("fc1.weight", WeightTensor.zeros("fc1.weight", model.weight("fc1.weight").shape()))));
        assertThrows(IllegalArgumentException.class, () -> fc2.fedLogits(a3, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> fc3.fedLogits(a3,
            Map.of("fc1.weight", WeightTensor.zeros("fc1.weight", model.weight("fc1.weight").shape()))));
        // fc3's one cut value is its input, [360 rows, fc3's in-features] floats.
        assertEquals(360L * model.weight("fc3.weight").shape()[1] * Float.BYTES, a3.bytes());
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  private static OnnxModel load(String name) {
    return OnnxModel.load(new ModelSource(SampleData.path(name + ".onnx"),
        SampleData.path(name + ".safetensors")), new Configuration());
  }
}
