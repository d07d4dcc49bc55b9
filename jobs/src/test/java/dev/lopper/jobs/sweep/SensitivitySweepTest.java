package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.LocalSpark;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.Scoring;
import dev.lopper.data.BatchInput;
import dev.lopper.jobs.data.SequenceSpec;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ModelStructure;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sweep on Spark (local mode) gives, for 1, 3 and 8 data partitions, bit-for-bit the tallies
 * of the single-process sweep, and PyTorch's numbers.
 */
class SensitivitySweepTest {
  private static final double[] GRID = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  private static SparkSession spark;
  private static Broadcast<SerializableConfiguration> conf;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start(2);
    conf = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .broadcast(new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static SweepSpec spec(OnnxModel model, List<PrunableTensor> tensors, int tensorsPerTask) {
    return new SweepSpec(model.source(), model.checksum(), tensors, "magnitude", GRID, 64, 1, tensorsPerTask, 10);
  }

  @Test
  void sweepIsIdenticalForAnyPartitioningAndEqualsSingleProcessAndPyTorch() {
    OnnxModel cnn = OnnxModel.load(new ModelSource(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(cnn);

    Tally[][] single = new Tally[tensors.size()][];
    Tally singleBaseline;
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(cnn)) {
      List<Batch> batches = ValidationSet.batches(new long[] {1, 8, 8}, 64, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, 10);
        singleBaseline = sweep.baseline();
        for (int t = 0; t < tensors.size(); t++) {
          single[t] = sweep.sweep(cnn.weight(tensors.get(t).name()), Criteria.byName("magnitude"), GRID,
              CriterionContext.of(tensors));
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }

    Map<String, Map<String, String>> torch = new HashMap<>();
    for (Map<String, String> row : ReferenceCsv.read("digits-cnn-sensitivity.csv")) {
      torch.put(row.get("tensor") + "@" + row.get("sparsity"), row);
    }
    for (int partitions : new int[] {1, 3, 8}) {
      for (int tensorsPerTask : new int[] {0, 1}) {
        ValidationData data = ValidationData.load(spark, new ValidationData.Spec(SampleData.path("digits-val.parquet"),
            "features", "label", new long[] {1, 8, 8}, partitions), 10);
        assertEquals(partitions, data.partitionCount());
        SweepResult result = SensitivitySweep.run(spark, data, spec(cnn, tensors, tensorsPerTask), conf);
        data.release();
        String where = partitions + " partitions, " + tensorsPerTask + " tensors per task";
        assertEquals(singleBaseline, result.baseline(), where + ": baseline");
        for (int t = 0; t < tensors.size(); t++) {
          for (int s = 0; s < GRID.length; s++) {
            Tally tally = result.variant(t, s);
            assertEquals(single[t][s], tally, where + ": " + tensors.get(t).name() + " at " + GRID[s]);
            Map<String, String> expected = torch.get(tensors.get(t).name() + "@" + GRID[s]);
            assertEquals(Double.parseDouble(expected.get("accuracy")), tally.metrics().accuracy(), 0.0);
            assertEquals(Double.parseDouble(expected.get("loss")), tally.metrics().loss(), 1e-5);
          }
        }
      }
    }
  }

  /**
   * The sample language model: three of its Linear weights (the first block's query, the second's
   * up projection, the head) over the whole grid give the same tallies for 1, 3 and 8 partitions,
   * and PyTorch's perplexity within 1e-4 relative.
   */
  @Test
  void languageModelSweepIsIdenticalForAnyPartitioningAndEqualsPyTorch() {
    OnnxModel lm = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(lm, List.of("blocks.0.attn.q_proj.weight",
        "blocks.1.mlp.up.weight", "lm_head.weight"), List.of());
    assertEquals(3, tensors.size());
    SweepSpec spec = new SweepSpec(lm.source(), lm.checksum(), tensors, "magnitude", GRID, 16, 1, 0,
        Scoring.languageModel(), tensors.stream().map(SweepItem::of).toList(), List.of());
    Map<String, Map<String, String>> torch = new HashMap<>();
    for (Map<String, String> row : ReferenceCsv.read("tiny-lm-sensitivity.csv")) {
      torch.put(row.get("tensor") + "@" + row.get("sparsity"), row);
    }
    SweepResult first = null;
    for (int partitions : new int[] {1, 3, 8}) {
      SweepResult result = sweepTinyLm(spec, partitions);
      first = first == null ? result : first;
      assertEquals(first.baseline(), result.baseline(), partitions + " partitions: baseline");
      for (int t = 0; t < tensors.size(); t++) {
        for (int s = 0; s < GRID.length; s++) {
          String where = partitions + " partitions: " + tensors.get(t).name() + " at " + GRID[s];
          assertEquals(first.variant(t, s), result.variant(t, s), where);
          double expected = Double.parseDouble(torch.get(tensors.get(t).name() + "@" + GRID[s]).get("perplexity"));
          assertEquals(expected, result.variant(t, s).metrics().perplexity(), 1e-4 * expected, where);
        }
      }
    }
  }

  /**
   * Channel groups of the residual sample (conv1+conv3 joined by the skip Add, conv2, the fc's
   * rows) swept whole with channel-l1: the same tallies for 1, 3 and 8 partitions as the
   * single-process group sweep.
   */
  @Test
  void channelGroupSweepIsIdenticalForAnyPartitioning() {
    OnnxModel resnet = OnnxModel.load(new ModelSource(SampleData.path("digits-resnet.onnx"),
        SampleData.path("digits-resnet.safetensors")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(resnet);
    ModelStructure structure = ModelStructure.analyse(resnet);
    List<ChannelGroup> groups = structure.prunableGroups();
    List<SweepItem> items = groups.stream().map(g -> SweepItem.of(g, structure.tensorShapes())).toList();
    assertTrue(items.stream().anyMatch(i -> i.tensors().containsAll(List.of("conv1.weight", "conv3.weight"))),
        "the skip connection joins conv1 and conv3: " + items);
    SweepSpec spec = new SweepSpec(resnet.source(), resnet.checksum(), tensors, "channel-l1", GRID, 64, 1, 0, 10,
        items, structure.groups());

    Tally[][] single = new Tally[items.size()][];
    Tally singleBaseline;
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(resnet)) {
      List<Batch> batches = ValidationSet.batches(new long[] {1, 8, 8}, 64, allocator);
      try {
        TensorSweep sweep = TensorSweep.forItems(evaluator, batches, 10,
            items.stream().map(SweepItem::tensors).toList(), TensorSweep.Options.defaults());
        singleBaseline = sweep.baseline();
        for (int g = 0; g < items.size(); g++) {
          single[g] = sweep.sweep(items.get(g).tensors().stream().map(resnet::weight).toList(),
              Criteria.byName("channel-l1"), GRID, spec.context());
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    for (int partitions : new int[] {1, 3, 8}) {
      ValidationData data = ValidationData.load(spark, new ValidationData.Spec(SampleData.path("digits-val.parquet"),
          "features", "label", new long[] {1, 8, 8}, partitions), 10);
      SweepResult result = SensitivitySweep.run(spark, data, spec, conf);
      data.release();
      assertEquals(singleBaseline, result.baseline(), partitions + " partitions: baseline");
      for (int g = 0; g < items.size(); g++) {
        for (int s = 0; s < GRID.length; s++) {
          assertEquals(single[g][s], result.variant(g, s),
              partitions + " partitions: " + items.get(g).name() + " at " + GRID[s]);
        }
      }
    }
  }

  /**
   * The sample language model's head groups (4 heads of 16 per layer) and FFN neuron groups (256
   * per layer) swept whole with channel-l2 on token rows: the same tallies for 1, 3 and 8
   * partitions, and removing heads or neurons raises the perplexity.
   */
  @Test
  void languageModelHeadAndNeuronGroupSweepIsIdenticalForAnyPartitioning() {
    OnnxModel lm = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), new Configuration());
    ModelStructure structure = ModelStructure.analyse(lm);
    List<ChannelGroup> groups = structure.prunableGroups();
    assertEquals(List.of(4L, 256L, 4L, 256L), groups.stream().map(ChannelGroup::channels).toList());
    List<SweepItem> items = groups.stream().map(g -> SweepItem.of(g, structure.tensorShapes())).toList();
    double[] grid = {0.25, 0.5, 0.75};
    SweepSpec spec = new SweepSpec(lm.source(), lm.checksum(), PrunableTensors.find(lm), "channel-l2", grid,
        16, 1, 0, Scoring.languageModel(), items, structure.groups());
    SweepResult first = null;
    for (int partitions : new int[] {1, 3, 8}) {
      SweepResult result = sweepTinyLm(spec, partitions);
      first = first == null ? result : first;
      assertEquals(first.baseline(), result.baseline(), partitions + " partitions: baseline");
      for (int g = 0; g < items.size(); g++) {
        for (int s = 0; s < grid.length; s++) {
          String where = partitions + " partitions: " + items.get(g).name() + " at " + grid[s];
          assertEquals(first.variant(g, s), result.variant(g, s), where);
          assertTrue(result.variant(g, s).metrics().perplexity() > result.baseline().metrics().perplexity(), where);
        }
      }
    }
  }

  /** The sweep of {@code spec} over the sample LM's validation rows in {@code partitions} partitions. */
  private static SweepResult sweepTinyLm(SweepSpec spec, int partitions) {
    SequenceSpec tokens = new SequenceSpec(List.of(new SequenceSpec.Column("input_ids", "input_ids",
        BatchInput.ElementType.INT64, 256)), null, "input_ids", null, 0, true);
    ValidationData data = ValidationData.load(spark,
        ValidationData.Spec.sequences(SampleData.path("tiny-lm-val.parquet"), tokens, partitions), 0);
    assertEquals(partitions, data.partitionCount());
    SweepResult result = SensitivitySweep.run(spark, data, spec, conf);
    data.release();
    return result;
  }
}
