package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.calibration.ChunkStatistics;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.calibration.GramOptions;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.CompensatingChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.ReconstructingCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code channel-fluctuation}, {@code channel-wanda} and bias compensation against
 * data/reference/{@code channel-activation-<model>.csv}, written by
 * data/make_channel_activation_references.py from PyTorch's own forward hooks and unfold, groups
 * stated by hand and FLAP's formulas in numpy: every channel's score (within 1e-5 of the group's
 * largest, the float32 forward passes of ONNX Runtime and PyTorch differing by about 1e-6), the
 * kept channels exactly, the compensated consumer biases (within 1e-5 of their scale), and the
 * accuracy and loss of the model with that group pruned (for the ResNet's residual pair, whose
 * consumers are conv2 and the Gemm after Flatten, the sum over both), with and without compensation, as the
 * sweep measures it (masked) and as the shrunk file computes it. The compensated shrunk model
 * equals the compensated masked one within 1e-4.
 */
class ChannelActivationReferenceTest {
  private static final Configuration CONF = new Configuration();
  private static final int CALIBRATION_ROWS = 64;

  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64", "digits-cnn, 1 8 8", "digits-resnet, 1 8 8"})
  void scoresKeptChannelsAndCompensationEqualPyTorch(String name, String shape) throws Exception {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), CONF);
    ModelStructure structure = ModelStructure.analyse(model);
    long[] rowShape = Arrays.stream(shape.split(" ")).mapToLong(Long::parseLong).toArray();
    Map<String, InputStatistics> statistics = statistics(model, rowShape, CALIBRATION_ROWS);
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    assertTrue(compensation.blocked().isEmpty(), compensation.blocked().toString());
    CriterionContext.Builder builder = CriterionContext.builder().optChannelGroups(structure.groups())
        .optCompensation(compensation);
    statistics.forEach(builder::optInputStatistics);
    CriterionContext context = builder.build();
    List<Map<String, String>> reference = ReferenceCsv.read("channel-activation-" + name + ".csv");
    double worstScore = 0;
    double worstBias = 0;
    double worstShrunk = 0;
    int compared = 0;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(rowShape, 120, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
        for (Map<String, String> row : reference) {
          // The script names a group by its producing modules: conv1+conv3 is conv1.weight+conv3.weight.
          String groupName = String.join("+", Arrays.stream(row.get("group").split("\\+")).map(m -> m + ".weight")
              .toList());
          ChannelGroup group = structure.group(groupName).orElseThrow(() -> new AssertionError(groupName));
          double sparsity = Double.parseDouble(row.get("sparsity"));
          ChannelCriterion criterion = (ChannelCriterion) Criteria.byName(
              row.get("criterion").equals("fluctuation") ? "channel-fluctuation" : "channel-wanda");
          String where = name + " " + group.name() + " " + criterion.name() + " " + sparsity;

          double[] expected = Arrays.stream(row.get("scores").split(" ")).mapToDouble(Double::parseDouble).toArray();
          double[] scores = criterion.withStatistics(statistics).scores(group, model.weights());
          double scale = Arrays.stream(expected).max().orElseThrow();
          for (int c = 0; c < expected.length; c++) {
            double difference = Math.abs(expected[c] - scores[c]) / scale;
            worstScore = Math.max(worstScore, difference);
            assertTrue(difference <= 1e-5, where + ": channel " + c + " scores " + scores[c] + ", PyTorch "
                + expected[c]);
          }
          int[] kept = criterion.withStatistics(statistics).keep(group, model.weights(), sparsity);
          assertEquals(row.get("kept_channels"), String.join(" ", Arrays.stream(kept).mapToObj(Integer::toString).toList()),
              where + ": kept channels");

          // Uncompensated, through the criterion interface (statistics from the context).
          List<WeightTensor> tensors = group.tensors().stream().map(model::weight).toList();
          MaskSet masks = criterion.select(tensors, sparsity, context);
          Tally plain = sweep.evaluate(masks.apply(model.weights()));
          assertEquals(Double.parseDouble(row.get("accuracy_plain")), plain.metrics().accuracy(), where + ": accuracy");
          assertEquals(Double.parseDouble(row.get("loss_plain")), plain.metrics().loss(), 1e-5, where + ": loss");

          // Compensated, as the sweep measures it: masked group tensors and the consumers' new biases.
          ReconstructingCriterion.PrunedWeights variant = new CompensatingChannelCriterion(criterion)
              .pruneGrid(tensors, new double[] {sparsity}, context).get(0);
          String[] biasNames = row.get("bias").split(";");
          String[] biasValues = row.get("compensated").split(";");
          for (int b = 0; b < biasNames.length; b++) {
            double[] want = Arrays.stream(biasValues[b].split(" ")).mapToDouble(Double::parseDouble).toArray();
            float[] got = variant.weights().get(biasNames[b]).toArray();
            double biasScale = Arrays.stream(want).map(Math::abs).max().orElseThrow();
            for (int o = 0; o < want.length; o++) {
              double difference = Math.abs(want[o] - got[o]) / biasScale;
              worstBias = Math.max(worstBias, difference);
              assertTrue(difference <= 1e-5, where + ": " + biasNames[b] + "[" + o + "] " + got[o] + ", PyTorch "
                  + want[o]);
            }
          }
          Map<String, WeightTensor> maskedWeights = new LinkedHashMap<>(model.weights());
          maskedWeights.putAll(variant.weights());
          Tally compensated = sweep.evaluate(variant.weights());
          assertEquals(Double.parseDouble(row.get("accuracy")), compensated.metrics().accuracy(),
              where + ": compensated accuracy");
          assertEquals(Double.parseDouble(row.get("loss")), compensated.metrics().loss(), 1e-5,
              where + ": compensated loss");

          // Shrunk with the same biases: PyTorch's accuracy, and the masked model's outputs.
          ChannelSelection selection = ChannelSelection.of(Map.of(group.id(), kept));
          Map<String, WeightTensor> biases = compensation.biases(structure.groups(), selection, model.weights(),
              statistics);
          ShrunkModel shrunk = BiasCompensation.shrink(structure, selection, biases);
          String tag = name + "-" + group.id() + "-" + criterion.name() + "-" + sparsity;
          String shrunkFile = dir.resolve(tag + "-shrunk.onnx").toString();
          String maskedFile = dir.resolve(tag + "-masked.onnx").toString();
          shrunk.writeOnnx(shrunkFile, CONF);
          PrunedModelWriter.writeOnnx(model, maskedWeights, maskedFile, CONF);
          float[] features = ModelOutputs.validationFeatures();
          long[] full = new long[rowShape.length + 1];
          full[0] = 360;
          System.arraycopy(rowShape, 0, full, 1, rowShape.length);
          double difference = ModelOutputs.maxDifference(ModelOutputs.run(maskedFile, features, full),
              ModelOutputs.run(shrunkFile, features, full));
          worstShrunk = Math.max(worstShrunk, difference);
          assertTrue(difference <= 1e-4, where + ": shrunk and masked outputs differ by " + difference);
          try (Evaluator small = new Evaluator(OnnxModel.load(ModelSource.onnx(shrunkFile), CONF))) {
            Tally t = new TensorSweep(small, batches, 10).baseline();
            assertEquals(Double.parseDouble(row.get("accuracy")), t.metrics().accuracy(), where + ": shrunk accuracy");
          }
          compared++;
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertEquals(reference.size(), compared);
    assertTrue(compared >= 12, "rows compared: " + compared);
    System.out.printf("%s: largest differences from PyTorch: scores %.2e, biases %.2e; shrunk against masked %.2e%n",
        name, worstScore, worstBias, worstShrunk);
  }

  /** The consumer inputs' statistics on the first {@code rows} validation rows (a multiple of 8), merged in order. */
  static Map<String, InputStatistics> statistics(OnnxModel model, long[] rowShape, int rows) {
    ConsumerInputs inputs = ConsumerInputs.of(model, PrunableTensors.find(model));
    ChunkStatistics total = null;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model);
        ActivationCapture capture = new ActivationCapture(evaluator, inputs.values(), Map.of())) {
      List<Batch> list = ValidationSet.batches(rowShape, 8, allocator);
      try {
        for (Batch batch : list.subList(0, rows / 8)) {
          ChunkStatistics chunk = ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(),
              GramOptions.none());
          total = total == null ? chunk : total.plus(chunk);
        }
      } finally {
        list.forEach(Batch::close);
      }
    }
    return inputs.byTensor(total);
  }
}
