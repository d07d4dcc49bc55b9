package dev.lopper.jobs.sweep;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.TensorSweep;
import dev.lopper.jobs.data.PartitionData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.metrics.Tally;
import dev.lopper.model.WeightTensor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.PartitionPruningRDD;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.runtime.AbstractFunction1;

/**
 * The sensitivity sweep on Spark: the dense baseline plus every (item, sparsity) variant, evaluated
 * on every row of the data, where an item ({@link SweepItem}) is one tensor or, for a structured
 * criterion, one channel group whose tensors are pruned together.
 *
 * <p>Work units are (data slice × item group), planned by {@link SweepPlan} from the decoded
 * partitions' row counts so that every core gets an equal share whatever the input's partitioning.
 * A unit decodes nothing (its partition is already decoded and cached; the unit reads its slice of
 * it in place), builds its batches once, computes the dense logits once, and evaluates each of its
 * items' variants on them. Its output is one small {@link VariantTally} per variant; the driver
 * collects and merges them exactly, so nothing is shuffled and the volume is independent of the
 * number of samples.
 */
public final class SensitivitySweep {
  private static final Logger LOG = LoggerFactory.getLogger(SensitivitySweep.class);

  private SensitivitySweep() {}

  /** Runs the sweep and merges its results. */
  public static SweepResult run(SparkSession spark, ValidationData data, SweepSpec spec,
      Broadcast<SerializableConfiguration> conf) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    SweepPlan plan = SweepPlan.of(data.rowsPerPartition(), spec.batchSize(), jsc.defaultParallelism(),
        spec.items().size(), spec.tensorsPerTask());

    String what = spec.channelGroups().isEmpty() ? " tensors x " : " channel groups x ";
    String description = "sensitivity sweep: " + spec.items().size() + what + spec.sparsities().length
        + " sparsities on " + data.rows() + " rows (" + plan.slices() + " slices x " + plan.groups().size()
        + " item groups = " + plan.units().size() + " tasks)";
    jsc.setJobGroup("lopper-sweep", description, true);
    LOG.info("Starting {}", description);
    ValidationData.Spec dataSpec = data.spec();
    // One single-partition RDD per unit, reading the unit's cached data partition (its preferred
    // location), united into one job of one task per unit.
    List<JavaRDD<VariantTally>> units = new ArrayList<>(plan.units().size());
    for (SweepPlan.Unit unit : plan.units()) {
      units.add(PartitionPruningRDD.create(data.partitions().rdd(), new OnlyPartition(unit.partition()))
          .toJavaRDD()
          .flatMap(rows -> evaluateUnit(spec, dataSpec, conf.value(), rows, unit).iterator()));
    }
    @SuppressWarnings("unchecked")
    JavaRDD<VariantTally> results = jsc.union(units.toArray(JavaRDD[]::new));
    results.setName("sweep " + spec.items().stream().map(SweepItem::name).toList());
    List<VariantTally> tallies = results.collect();
    jsc.clearJobGroup();
    return SweepResult.merge(spec, tallies, plan.slices());
  }

  private static List<VariantTally> evaluateUnit(SweepSpec spec, ValidationData.Spec dataSpec,
      SerializableConfiguration conf, PartitionData rows, SweepPlan.Unit unit) {
    ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.get(), spec.threads());
    PruningCriterion criterion = spec.criterionInstance();
    CriterionContext context = spec.context();
    List<VariantTally> out = new ArrayList<>();
    try (BufferAllocator allocator = ExecutorModels.taskAllocator("slice " + unit.slice())) {
      List<Batch> batches = rows.batches(unit.from(), unit.to(), dataSpec, spec.batchSize(), allocator);
      try {
        // The unit's items are named up front so that the one dense pass also yields the
        // activations at each of their cuts (prefix reuse): variants then run the suffix only.
        List<List<String>> names = unit.items().stream().map(i -> spec.items().get(i).tensors()).toList();
        TensorSweep sweep = TensorSweep.forItems(loaded.evaluator(), batches, spec.scoring(), names,
            TensorSweep.Options.defaults());
        if (unit.baseline()) {
          out.add(new VariantTally(VariantTally.BASELINE, 0, unit.slice(), sweep.baseline()));
        }
        for (int i : unit.items()) {
          List<WeightTensor> weights = spec.items().get(i).tensors().stream().map(loaded.model()::weight).toList();
          Tally[] tallies = sweep.sweep(weights, criterion, spec.sparsities(), context);
          for (int s = 0; s < tallies.length; s++) {
            out.add(new VariantTally(i, s, unit.slice(), tallies[s]));
          }
        }
        for (TensorSweep.ItemCost cost : sweep.costs()) {
          LOG.info("Sweep slice {}: {}", unit.slice(), cost.describe());
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    return out;
  }

  /** Keeps one partition of an RDD (Spark's partition filter is a Scala function). */
  private static final class OnlyPartition extends AbstractFunction1<Object, Object> implements Serializable {
    private static final long serialVersionUID = 1L;
    private final int partition;

    OnlyPartition(int partition) {
      this.partition = partition;
    }

    @Override
    public Object apply(Object index) {
      return ((Integer) index) == partition;
    }
  }
}
