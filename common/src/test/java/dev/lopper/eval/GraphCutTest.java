package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.SmallOnnxModels;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import onnx.Onnx;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where graphs are cut: the expected suffixes, cut values and prefixes are read off the models'
 * node lists by hand (for the sample models, as {@code onnx.load} prints them).
 */
class GraphCutTest {
  @TempDir Path dir;

  @Test
  void cnnCutsAtEachConsumerKeepingBatchNormPoolAndFlattenInTheSuffix() {
    OnnxModel cnn = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), new Configuration());
    GraphCut conv1 = GraphCut.of(cnn, Set.of("conv1.weight"));
    assertEquals(List.of("input"), conv1.values());
    assertEquals(11, conv1.suffixNodes().size());
    assertEquals(List.of(), conv1.prefixNodes());
    assertEquals(List.of(), conv1.computedValues());

    GraphCut conv2 = GraphCut.of(cnn, Set.of("conv2.weight"));
    assertEquals(List.of("/Relu_output_0"), conv2.values());
    assertEquals(List.of("/conv2/Conv", "/bn2/BatchNormalization", "/Relu_1", "/pool/MaxPool",
        "/flatten/Flatten", "/fc1/Gemm", "/Relu_2", "/fc2/Gemm"), names(conv2.suffixNodes()));
    assertEquals(List.of("/conv1/Conv", "/bn1/BatchNormalization", "/Relu"), names(conv2.prefixNodes()));

    GraphCut fc1 = GraphCut.of(cnn, Set.of("fc1.weight"));
    assertEquals(List.of("/flatten/Flatten_output_0"), fc1.values());
    assertEquals(List.of("/fc1/Gemm", "/Relu_2", "/fc2/Gemm"), names(fc1.suffixNodes()));

    GraphCut fc2 = GraphCut.of(cnn, Set.of("fc2.weight"));
    assertEquals(List.of("/Relu_2_output_0"), fc2.values());
    assertEquals(List.of("/fc2/Gemm"), names(fc2.suffixNodes()));
    assertEquals(10, fc2.prefixNodes().size());

    // The suffix graph: the cut value as its input, only the initializers its nodes read.
    Onnx.GraphProto suffix = fc1.suffix(Map.of("/flatten/Flatten_output_0", floatMatrix())).getGraph();
    assertEquals(List.of("/flatten/Flatten_output_0"), suffix.getInputList().stream().map(Onnx.ValueInfoProto::getName).toList());
    assertEquals(Set.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"),
        Set.copyOf(suffix.getInitializerList().stream().map(Onnx.TensorProto::getName).toList()));
    assertEquals(List.of("logits"), suffix.getOutputList().stream().map(Onnx.ValueInfoProto::getName).toList());
    Onnx.GraphProto prefix = fc1.prefix().getGraph();
    assertEquals(List.of("input"), prefix.getInputList().stream().map(Onnx.ValueInfoProto::getName).toList());
    assertEquals(List.of("/flatten/Flatten_output_0"), prefix.getOutputList().stream().map(Onnx.ValueInfoProto::getName).toList());
    assertFalse(prefix.getInitializerList().stream().anyMatch(t -> t.getName().startsWith("fc")));
  }

  @Test
  void mlpCutsAtTheInputOfEachGemm() {
    OnnxModel mlp = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-mlp.onnx")), new Configuration());
    assertEquals(List.of("input"), GraphCut.of(mlp, Set.of("fc1.weight")).values());
    assertEquals(List.of("/Relu_output_0"), GraphCut.of(mlp, Set.of("fc2.weight")).values());
    assertEquals(List.of("/fc2/Gemm", "/Relu_1", "/fc3/Gemm"),
        names(GraphCut.of(mlp, Set.of("fc2.weight")).suffixNodes()));
    assertEquals(List.of("/Relu_1_output_0"), GraphCut.of(mlp, Set.of("fc3.weight")).values());
    // A bias is a weight too; several weights cut at the earliest consumer.
    assertEquals(List.of("/Relu_output_0"), GraphCut.of(mlp, Set.of("fc3.weight", "fc2.bias")).values());
    assertThrows(IllegalArgumentException.class, () -> GraphCut.of(mlp, Set.of("fc9.weight")));
    assertThrows(IllegalArgumentException.class, () -> GraphCut.of(mlp, Set.of()));
  }

  @Test
  void branchesCutAtEveryValueTheSuffixReadsFromBeforeIt() {
    OnnxModel m = SmallOnnxModels.branches(dir);
    GraphCut a = GraphCut.of(m, Set.of("a.weight"));
    assertEquals(List.of("a", "relu", "c", "sum"), names(a.suffixNodes()));
    assertEquals(List.of("x", "hb"), a.values());
    assertEquals(List.of("hb"), a.computedValues());
    assertEquals(List.of("b"), names(a.prefixNodes()));

    GraphCut b = GraphCut.of(m, Set.of("b.weight"));
    assertEquals(List.of("b", "sum"), names(b.suffixNodes()));
    assertEquals(List.of("x", "hc"), b.values());
    assertEquals(List.of("a", "relu", "c"), names(b.prefixNodes()));

    GraphCut c = GraphCut.of(m, Set.of("c.weight"));
    assertEquals(List.of("c", "sum"), names(c.suffixNodes()));
    assertEquals(List.of("ra", "hb"), c.values());
    assertEquals(List.of("a", "b", "relu"), names(c.prefixNodes()));

    GraphCut ab = GraphCut.of(m, Set.of("a.weight", "b.weight"));
    assertEquals(List.of("x"), ab.values());
    assertTrue(ab.prefixNodes().isEmpty());

    // d only feeds the second output; the first (the logits) does not depend on it.
    GraphCut d = GraphCut.of(m, Set.of("d.weight"));
    assertFalse(d.affectsOutput());
    assertThrows(IllegalStateException.class, () -> d.suffix(Map.of()));
  }

  @Test
  void branchSuffixesGiveTheWholeModelsLogitsBitwise() {
    OnnxModel m = SmallOnnxModels.branches(dir);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(m);
        Batch batch = randomBatch(allocator)) {
      Logits dense;
      try (VariantSession s = evaluator.dense()) {
        dense = s.logits(batch);
      }
      for (Set<String> weights : List.of(Set.of("a.weight"), Set.of("b.weight"), Set.of("c.weight"),
          Set.of("a.weight", "c.weight"), Set.of("b.weight", "c.weight"))) {
        Map<String, WeightTensor> rep = new java.util.HashMap<>();
        weights.forEach(w -> rep.put(w, scaled(m.weight(w), 0.5f)));
        try (PreparedCut cut = evaluator.cut(GraphCut.of(m, weights));
            CutActivations activations = cut.activations(batch);
            VariantSession full = evaluator.variant(rep);
            VariantSession suffix = cut.variant(rep)) {
          Logits expected = full.logits(batch);
          assertNotEquals(dense, expected, weights.toString());
          assertEquals(expected, suffix.logits(activations), weights.toString());
        }
      }
      assertThrows(IllegalArgumentException.class,
          () -> evaluator.cut(GraphCut.of(m, Set.of("d.weight"))));
      // A sweep falls back to the whole model when the output does not depend on the weights.
      TensorSweep sweep = new TensorSweep(evaluator, List.of(batch), 3);
      Tally side = sweep.evaluate(Map.of("d.weight", scaled(m.weight("d.weight"), 0f)));
      assertEquals(sweep.baseline(), side);
    }
  }

  @Test
  void everyTensorOfTheSmallModelsGivesTheWholeModelsLogitsFromItsCut() {
    List<OnnxModel> models = List.of(SmallOnnxModels.mlp(dir), SmallOnnxModels.cnn(dir),
        SmallOnnxModels.groupedConv(dir), SmallOnnxModels.depthwise(dir),
        SmallOnnxModels.concat(dir), SmallOnnxModels.matMulMlp(dir),
        SmallOnnxModels.reshapeAfterConv(dir));
    int compared = 0;
    try (BufferAllocator allocator = new RootAllocator()) {
      for (OnnxModel m : models) {
        long[] dims = m.inputs().get(0).dims();
        long[] rowShape = java.util.Arrays.copyOfRange(dims, 1, dims.length);
        try (Evaluator evaluator = new Evaluator(m);
            Batch batch = randomBatch(allocator, rowShape)) {
          for (dev.lopper.model.PrunableTensor t : dev.lopper.model.PrunableTensors.find(m)) {
            Map<String, WeightTensor> rep = Map.of(t.name(), scaled(m.weight(t.name()), 0.5f));
            try (PreparedCut cut = evaluator.cut(GraphCut.of(m, Set.of(t.name())));
                CutActivations activations = cut.activations(batch);
                VariantSession full = evaluator.variant(rep);
                VariantSession suffix = cut.variant(rep)) {
              assertEquals(full.logits(batch), suffix.logits(activations), m + " " + t.name());
              compared++;
            }
          }
        }
      }
    }
    assertTrue(compared >= 2 * models.size(), compared + " tensors compared");
  }

  @Test
  void activationsOfUnknownWidthAreCopiedOutOfTheDensePass() {
    OnnxModel m = SmallOnnxModels.symbolicWidth(dir);
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(m);
        Batch batch = randomBatch(allocator)) {
      Map<String, WeightTensor> rep = Map.of("w", scaled(m.weight("w"), -2f));
      TensorSweep full = new TensorSweep(evaluator, List.of(batch), 3, TensorSweep.Options.fullEvaluation());
      TensorSweep held = new TensorSweep(evaluator, List.of(batch), 3, List.of("w"),
          TensorSweep.Options.defaults());
      // r is [16 rows, 4] floats, held although its width was unknown before the run.
      assertEquals(16 * 4 * Float.BYTES, held.heldBytes());
      assertEquals(full.denseLogits(), held.denseLogits());
      assertNotEquals(full.baseline(), full.evaluate(rep));
      assertEquals(full.evaluate(rep), held.evaluate(rep));
    }
  }

  private static WeightTensor scaled(WeightTensor w, float factor) {
    float[] v = w.toArray();
    for (int i = 0; i < v.length; i++) {
      v[i] *= factor;
    }
    return WeightTensor.of(w.name(), w.shape(), v);
  }

  private static Batch randomBatch(BufferAllocator allocator) {
    return randomBatch(allocator, new long[] {4});
  }

  private static Batch randomBatch(BufferAllocator allocator, long[] rowShape) {
    Random random = new Random(7);
    int size = (int) WeightTensor.elementCount(rowShape);
    try (BatchBuilder b = new BatchBuilder(rowShape, 16, true, allocator)) {
      for (int r = 0; r < 16; r++) {
        float[] row = new float[size];
        for (int i = 0; i < size; i++) {
          row[i] = (float) random.nextGaussian();
        }
        b.add(row, r % 3);
      }
      return b.build();
    }
  }

  private static Onnx.TypeProto floatMatrix() {
    return Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
        .setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE)).build();
  }

  private static List<String> names(List<Onnx.NodeProto> nodes) {
    return nodes.stream().map(Onnx.NodeProto::getName).toList();
  }
}
