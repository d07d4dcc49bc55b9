package dev.lopper.jobs.sweep;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.TensorSweep;
import dev.lopper.jobs.data.PartitionRows;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.metrics.Tally;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sensitivity sweep on Spark: the dense baseline plus every (item, sparsity) variant, evaluated
 * on every data partition, where an item ({@link SweepItem}) is one tensor or, for a structured
 * criterion, one channel group whose tensors are pruned together.
 *
 * <p>Work units are (data partition × task group of items), the cartesian product of the decoded
 * partitions and the task groups, so that a model with few data partitions still keeps every core
 * busy. A unit decodes nothing (its partition is already decoded and cached), builds its batches
 * once, computes the dense logits once, and evaluates each of its items' variants on them. Its
 * output is one small {@link VariantTally} per variant; the driver collects and merges them
 * exactly, so nothing is shuffled and the volume is independent of the number of samples.
 */
public final class SensitivitySweep {
  private static final Logger LOG = LoggerFactory.getLogger(SensitivitySweep.class);

  private SensitivitySweep() {}

  /** Runs the sweep and merges its results. */
  public static SweepResult run(SparkSession spark, ValidationData data, SweepSpec spec,
      Broadcast<SerializableConfiguration> conf) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int partitions = data.partitionCount();
    List<List<Integer>> groups = groups(spec, partitions, jsc.defaultParallelism());
    JavaRDD<Integer> groupIndices = jsc.parallelize(IntStream.range(0, groups.size()).boxed().toList(), groups.size());

    String what = spec.channelGroups().isEmpty() ? " tensors x " : " channel groups x ";
    String description = "sensitivity sweep: " + spec.items().size() + what + spec.sparsities().length
        + " sparsities on " + partitions + " partitions (" + partitions * groups.size() + " tasks)";
    jsc.setJobGroup("lopper-sweep", description, true);
    LOG.info("Starting {}", description);
    ValidationData.Spec dataSpec = data.spec();
    JavaRDD<VariantTally> results = data.partitions().cartesian(groupIndices)
        .flatMap(unit -> evaluateUnit(spec, dataSpec, conf.value(), unit._1(), groups.get(unit._2()), unit._2() == 0).iterator());
    results.setName("sweep " + spec.items().stream().map(SweepItem::name).toList());
    List<VariantTally> tallies = results.collect();
    jsc.clearJobGroup();
    return SweepResult.merge(spec, tallies, partitions);
  }

  /**
   * Splits the swept items into task groups: as many as it takes for (partitions × task groups) to
   * reach twice the cores (so that one slow unit does not idle the rest), or the configured items
   * per task.
   */
  static List<List<Integer>> groups(SweepSpec spec, int partitions, int cores) {
    int items = spec.items().size();
    int count = spec.tensorsPerTask() > 0
        ? (items + spec.tensorsPerTask() - 1) / spec.tensorsPerTask()
        : Math.min(items, Math.max(1, (2 * cores + partitions - 1) / partitions));
    List<List<Integer>> groups = new ArrayList<>();
    for (int g = 0; g < count; g++) {
      groups.add(new ArrayList<>());
    }
    for (int i = 0; i < items; i++) {
      groups.get(i % count).add(i);
    }
    return groups;
  }

  private static List<VariantTally> evaluateUnit(SweepSpec spec, ValidationData.Spec dataSpec,
      SerializableConfiguration conf, PartitionRows rows, List<Integer> items, boolean withBaseline) {
    ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.get(), spec.threads());
    PruningCriterion criterion = Criteria.byName(spec.criterion());
    CriterionContext context = spec.context();
    List<VariantTally> out = new ArrayList<>();
    try (BufferAllocator allocator = ExecutorModels.taskAllocator("partition " + rows.partition())) {
      List<Batch> batches = rows.batches(dataSpec.rowShape(), spec.batchSize(), dataSpec.featuresColumn(),
          dataSpec.labelColumn(), allocator);
      try {
        // The unit's items are named up front so that the one dense pass also yields the
        // activations at each of their cuts (prefix reuse): variants then run the suffix only.
        List<List<String>> names = items.stream().map(i -> spec.items().get(i).tensors()).toList();
        TensorSweep sweep = TensorSweep.forItems(loaded.evaluator(), batches, spec.classes(), names,
            TensorSweep.Options.defaults());
        if (withBaseline) {
          out.add(new VariantTally(VariantTally.BASELINE, 0, rows.partition(), sweep.baseline()));
        }
        for (int i : items) {
          List<WeightTensor> weights = spec.items().get(i).tensors().stream().map(loaded.model()::weight).toList();
          Tally[] tallies = sweep.sweep(weights, criterion, spec.sparsities(), context);
          for (int s = 0; s < tallies.length; s++) {
            out.add(new VariantTally(i, s, rows.partition(), tallies[s]));
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    return out;
  }

}
