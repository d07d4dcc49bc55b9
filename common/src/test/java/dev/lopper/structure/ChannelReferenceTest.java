package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Structured pruning of whole groups against data/reference/{@code <model>-channel.csv}, written by
 * PyTorch from groups stated by hand: for every group, norm and sparsity 0.1 .. 0.9, channel-l1 and
 * channel-l2 keep the same channels, each producer's mask is {@code prune.ln_structured}'s (single
 * producers) or the script's own (the residual pair), and the group's sensitivity, measured by
 * evaluating the model with the whole group masked, has PyTorch's metrics. The shrunk model's
 * accuracy and loss are PyTorch's as well.
 */
class ChannelReferenceTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({"digits-mlp, 64", "digits-cnn, 1 8 8", "digits-resnet, 1 8 8"})
  void groupMasksAndSensitivitiesEqualPyTorch(String name, String shape) throws Exception {
    Configuration conf = new Configuration();
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path(name + ".onnx")), conf);
    ModelStructure structure = ModelStructure.analyse(model);
    CriterionContext context = CriterionContext.builder().optChannelGroups(structure.groups()).build();
    long[] rowShape = Arrays.stream(shape.split(" ")).mapToLong(Long::parseLong).toArray();
    List<Map<String, String>> reference = ReferenceCsv.read(name + "-channel.csv");
    int compared = 0;
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(rowShape, 120, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
        for (Map<String, String> row : reference) {
          // The script names a group by its producing modules: conv1+conv3 is conv1.weight+conv3.weight.
          String groupName = String.join("+", Arrays.stream(row.get("group").split("\\+"))
              .map(m -> m + ".weight").toList());
          ChannelGroup group = structure.group(groupName).orElseThrow(() -> new AssertionError(groupName));
          double sparsity = Double.parseDouble(row.get("sparsity"));
          PruningCriterion criterion = Criteria.byName(row.get("norm").equals("L1") ? "channel-l1" : "channel-l2");
          String where = name + " " + groupName + " " + row.get("norm") + " " + sparsity + " " + row.get("tensor");

          List<WeightTensor> tensors = group.tensors().stream().map(model::weight).toList();
          MaskSet masks = criterion.select(tensors, sparsity, context);
          int[] kept = ((ChannelCriterion) criterion).keep(group, model.weights(), sparsity);
          assertEquals(row.get("kept_channels"), String.join(" ", Arrays.stream(kept).mapToObj(Integer::toString).toList()),
              where + ": kept channels");
          assertEquals(Long.parseLong(row.get("pruned_channels")), group.channels() - kept.length, where);
          assertEquals(row.get("mask_sha256"), sha256(masks.get(row.get("tensor")).orElseThrow().toBoolBytes()),
              where + ": mask");
          Tally tally = sweep.evaluate(masks.apply(model.weights()));
          assertMetrics(row, tally.metrics(), where);

          if (row.get("norm").equals("L1") && row.get("tensor").equals(group.outputs().get(0).tensor())) {
            ShrunkModel shrunk = ModelShrinker.shrink(structure, ChannelSelection.of(Map.of(group.id(), kept)));
            String file = dir.resolve(name + "-" + group.id() + "-" + sparsity + ".onnx").toString();
            shrunk.writeOnnx(file, conf);
            try (Evaluator small = new Evaluator(OnnxModel.load(ModelSource.onnx(file), conf))) {
              Tally shrunkTally = new TensorSweep(small, batches, 10).baseline();
              assertEquals(Double.parseDouble(row.get("accuracy")), shrunkTally.metrics().accuracy(), where + ": shrunk accuracy");
              assertEquals(Double.parseDouble(row.get("loss")), shrunkTally.metrics().loss(), 1e-5, where + ": shrunk loss");
            }
          }
          compared++;
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    assertEquals(reference.size(), compared);
    assertTrue(compared >= 36, "rows compared: " + compared);
  }

  private static void assertMetrics(Map<String, String> expected, Metrics m, String where) {
    assertEquals(Long.parseLong(expected.get("samples")), m.samples(), where + ": samples");
    assertEquals(Double.parseDouble(expected.get("accuracy")), m.accuracy(), where + ": accuracy");
    assertEquals(Double.parseDouble(expected.get("top5")), m.top5(), where + ": top5");
    assertEquals(Double.parseDouble(expected.get("loss")), m.loss(), 1e-5, where + ": loss");
    assertEquals(Double.parseDouble(expected.get("f1_macro")), m.f1Macro(), 1e-9, where + ": f1");
    assertEquals(Double.parseDouble(expected.get("kl")), m.kl(), 1e-5, where + ": kl");
  }

  private static String sha256(ByteBuffer bytes) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    digest.update(bytes.duplicate());
    return HexFormat.of().formatHex(digest.digest());
  }
}
