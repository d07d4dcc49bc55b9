package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One suffix session for all of a tensor's variants, the weights fed as graph inputs ({@link
 * PreparedCut#fedLogits}), on a model whose products sum over 640 terms: there ONNX Runtime's
 * pre-packed GEMM (which sums K in blocks of 256) and its unpacked one (blocks of 128) round
 * differently, and so does its one-row GEMM; the sample models' layers are too narrow to tell.
 * Without pre-packing, and with single rows fed twice, the fed session's logits are bitwise the
 * whole pruned model's, a row's logits do not depend on its batch, and the sweep takes the fed
 * route for every Gemm and MatMul.
 */
class FedSuffixTest {
  private static final double[] GRID = {0.3, 0.6, 0.9};
  /** Weights read as inputs whatever their size (this model's are below the default threshold). */
  private static final EvaluatorOptions FED = EvaluatorOptions.defaults().withFedFromElements(0);

  @TempDir
  Path dir;

  @Test
  void fedLogitsAreBitwiseTheWholePrunedModels() {
    OnnxModel model = SmallOnnxModels.wideMlp(dir);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, FED)) {
      List<Batch> batches = ValidationSet.batches(new long[] {64}, 100, allocator);
      try {
        for (String name : List.of("w2", "fc3.weight")) {
          WeightTensor w = model.weight(name);
          try (PreparedCut cut = evaluator.cut(GraphCut.of(model, Set.of(name)));
              CutActivations a = cut.activations(batches.get(0))) {
            for (MaskSet mask : magnitude.selectGrid(List.of(w), GRID, context)) {
              Map<String, WeightTensor> pruned = mask.apply(Map.of(name, w));
              try (VariantSession whole = evaluator.variant(pruned)) {
                Logits expected = whole.logits(batches.get(0));
                assertEquals(expected, cut.fedLogits(a, pruned), name);
              }
            }
            try (VariantSession dense = evaluator.dense()) {
              assertEquals(dense.logits(batches.get(0)), cut.fedLogits(a, Map.of()), name + " dense");
            }
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void sweepTakesTheFedRouteWithTheFullEvaluationsTallies() {
    OnnxModel model = SmallOnnxModels.wideMlp(dir);
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    CriterionContext context = CriterionContext.of(tensors);
    PruningCriterion magnitude = Criteria.byName("magnitude");
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, FED)) {
      // 360 rows in batches of 359: the second batch holds one row.
      List<Batch> batches = ValidationSet.batches(new long[] {64}, 359, allocator);
      try {
        assertEquals(1, batches.get(batches.size() - 1).rows());
        List<String> names = tensors.stream().map(PrunableTensor::name).toList();
        // The dense pass reads the weights in place too: no session copies them.
        assertEquals(true, evaluator.fedModelReproduces());
        try (Evaluator packed = new Evaluator(model)) {
          assertEquals(false, packed.readsWeightsAsInputs(), "640 x 640 weights are below the default threshold");
        }
        TensorSweep full = new TensorSweep(evaluator, batches, 10, TensorSweep.Options.fullEvaluation());
        TensorSweep held = new TensorSweep(evaluator, batches, 10, names, TensorSweep.Options.defaults());
        for (String name : names) {
          Tally[] expected = full.sweep(model.weight(name), magnitude, GRID, context);
          Tally[] actual = held.sweep(model.weight(name), magnitude, GRID, context);
          assertArrayEquals(expected, actual, name);
          assertNotEquals(full.baseline(), expected[GRID.length - 1], name + " at 0.9");
          TensorSweep.ItemCost cost = held.costs().get(held.costs().size() - 1);
          assertEquals(TensorSweep.Route.FED_SUFFIX, cost.route(), name);
          assertEquals(GRID.length, cost.variants());
          assertEquals(360, cost.rows());
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void aRowsLogitsDoNotDependOnItsBatch() {
    OnnxModel model = SmallOnnxModels.wideMlp(dir);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model, FED);
        VariantSession session = evaluator.dense()) {
      List<Batch> ones = ValidationSet.batches(new long[] {64}, 1, allocator);
      List<Batch> sevens = ValidationSet.batches(new long[] {64}, 7, allocator);
      try {
        float[] alone = new float[0];
        for (Batch b : ones) {
          alone = concat(alone, session.logits(b).values());
        }
        float[] batched = new float[0];
        for (Batch b : sevens) {
          batched = concat(batched, session.logits(b).values());
        }
        assertEquals(360 * 10, alone.length);
        for (int i = 0; i < alone.length; i++) {
          assertEquals(Float.floatToRawIntBits(batched[i]), Float.floatToRawIntBits(alone[i]),
              "logit " + i + " alone and in a batch of 7");
        }
      } finally {
        ones.forEach(Batch::close);
        sevens.forEach(Batch::close);
      }
    }
  }

  private static float[] concat(float[] a, float[] b) {
    float[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
