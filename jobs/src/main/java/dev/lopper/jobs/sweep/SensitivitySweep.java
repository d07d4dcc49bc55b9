package dev.lopper.jobs.sweep;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.criteria.ReconstructingCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.TensorSweep;
import dev.lopper.jobs.data.PartitionData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.Fingerprint;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.metrics.Tally;
import dev.lopper.model.WeightTensor;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.PartitionPruningRDD;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.Iterator;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

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
 *
 * <p>With a {@link Checkpoint}, each unit's tallies are committed to the run's checkpoint directory as
 * the unit finishes, and a run started again after its driver died reuses the committed units and
 * computes only the others; the merge is exact, so the result is that of an uninterrupted run.
 */
public final class SensitivitySweep {
  private static final Logger LOG = LoggerFactory.getLogger(SensitivitySweep.class);

  /** The sweep's step name in a run's {@link Checkpoint}. */
  public static final String CHECKPOINT_STEP = "sweep";

  private SensitivitySweep() {}

  /** Runs the sweep and merges its results, without a checkpoint. */
  public static SweepResult run(SparkSession spark, ValidationData data, SweepSpec spec,
      Broadcast<SerializableConfiguration> conf) {
    return run(spark, data, spec, conf, Checkpoint.off(), Fingerprint.builder().build());
  }

  /**
   * Runs the sweep and merges its results, reusing the units that {@code checkpoint} holds for
   * {@code fingerprint} and committing each unit computed to it as its task's result arrives on the
   * driver. A resumed sweep plans its units for the cores recorded in the checkpoint, so that its
   * units are those committed whatever the cores now.
   *
   * @param fingerprint everything that decides the sweep's tallies besides the plan's cores
   */
  public static SweepResult run(SparkSession spark, ValidationData data, SweepSpec spec,
      Broadcast<SerializableConfiguration> conf, Checkpoint checkpoint, Fingerprint fingerprint) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int cores = jsc.defaultParallelism();
    SweepPlan plan = plan(data, spec, cores);
    Checkpoint.Step step = checkpoint.open(CHECKPOINT_STEP, fingerprint,
        Map.of("cores", String.valueOf(cores), "units", String.valueOf(plan.units().size())));
    if (step.resumed()) {
      plan = plan(data, spec, Integer.parseInt(step.notes().get("cores")));
      if (!String.valueOf(plan.units().size()).equals(step.notes().get("units"))) {
        throw new IllegalStateException("the sweep checkpoint " + step.path() + " planned " + step.notes().get("units")
            + " units, this run " + plan.units().size() + " for the same fingerprint");
      }
    }

    List<VariantTally> tallies = new ArrayList<>();
    List<Integer> missing = new ArrayList<>();
    for (int u = 0; u < plan.units().size(); u++) {
      List<VariantTally> reused = step.committed().contains(u) ? reused(step, u, plan.units().get(u), spec) : null;
      if (reused != null) {
        tallies.addAll(reused);
      } else {
        missing.add(u);
      }
    }
    int reusedUnits = plan.units().size() - missing.size();
    if (step.resumed()) {
      step.say("lopper: sweep: " + reusedUnits + " of " + plan.units().size() + " units reused from the checkpoint "
          + step.path() + ", " + missing.size() + " to compute");
    }

    String what = spec.channelGroups().isEmpty() ? " tensors x " : " channel groups x ";
    String description = "sensitivity sweep: " + spec.items().size() + what + spec.sparsities().length
        + " sparsities on " + data.rows() + " rows (" + plan.slices() + " slices x " + plan.groups().size()
        + " item groups = " + plan.units().size() + " tasks" + (reusedUnits > 0 ? ", " + reusedUnits
        + " reused from the checkpoint" : "") + ")";
    LOG.info("Starting {}", description);
    if (!missing.isEmpty()) {
      jsc.setJobGroup("lopper-sweep", description, true);
      tallies.addAll(compute(jsc, data, spec, conf, plan, missing, step));
      jsc.clearJobGroup();
    }
    GridMasks.clear();
    LOG.info("Sweep done: {} units computed, {} reused from the checkpoint", missing.size(), reusedUnits);
    return SweepResult.merge(spec, tallies, plan.slices(), new SweepResult.Units(plan.units().size(), reusedUnits));
  }

  private static SweepPlan plan(ValidationData data, SweepSpec spec, int cores) {
    return SweepPlan.of(data.rowsPerPartition(), spec.batchSize(), cores, spec.items().size(), spec.tensorsPerTask());
  }

  /**
   * Runs the {@code missing} units, one Spark task each, committing each unit's tallies to {@code step} as
   * its result arrives (Spark hands each partition's first successful result to the handler once, on the
   * driver, so a retried or speculative task commits nothing twice).
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static List<VariantTally> compute(JavaSparkContext jsc, ValidationData data, SweepSpec spec,
      Broadcast<SerializableConfiguration> conf, SweepPlan plan, List<Integer> missing, Checkpoint.Step step) {
    ValidationData.Spec dataSpec = data.spec();
    // One single-partition RDD per unit, reading the unit's cached data partition (its preferred
    // location), united into one job of one task per unit.
    List<JavaRDD<ArrayList<VariantTally>>> units = new ArrayList<>(missing.size());
    for (int u : missing) {
      SweepPlan.Unit unit = plan.units().get(u);
      units.add(PartitionPruningRDD.create(data.partitions().rdd(), new OnlyPartition(unit.partition()))
          .toJavaRDD()
          .map(rows -> new ArrayList<>(evaluateUnit(spec, dataSpec, conf.value(), rows, unit))));
    }
    JavaRDD<ArrayList<VariantTally>> results = jsc.union(units.toArray(JavaRDD[]::new));
    results.setName("sweep " + spec.items().stream().map(SweepItem::name).toList());
    List<VariantTally>[] byUnit = new List[missing.size()];
    ClassTag<ArrayList<VariantTally>> tag = (ClassTag) ClassTag$.MODULE$.apply(ArrayList.class);
    jsc.sc().runJob(results.rdd(), new FirstElement(), new AbstractFunction2<Object, ArrayList<VariantTally>,
        BoxedUnit>() {
      private int done;

      @Override
      public BoxedUnit apply(Object index, ArrayList<VariantTally> tallies) {
        int u = missing.get((Integer) index);
        step.commitObject(u, tallies);
        byUnit[(Integer) index] = tallies;
        LOG.debug("Committed sweep unit {} ({} of {} to compute)", u, ++done, missing.size());
        return BoxedUnit.UNIT;
      }
    }, tag);
    List<VariantTally> out = new ArrayList<>();
    for (List<VariantTally> t : byUnit) {
      out.addAll(t);
    }
    return out;
  }

  /** Unit {@code u}'s tallies from the checkpoint, or null when they cannot be read or are not the unit's. */
  private static List<VariantTally> reused(Checkpoint.Step step, int u, SweepPlan.Unit unit, SweepSpec spec) {
    List<?> read = step.readObject(u, ArrayList.class);
    if (read == null) {
      return null;
    }
    List<VariantTally> tallies = new ArrayList<>();
    for (Object o : read) {
      if (!(o instanceof VariantTally t)) {
        return null;
      }
      tallies.add(t);
    }
    int expected = (unit.baseline() ? 1 : 0) + unit.items().size() * spec.sparsities().length;
    for (VariantTally t : tallies) {
      if (t.slice() != unit.slice() || (t.item() != VariantTally.BASELINE && !unit.items().contains(t.item()))) {
        LOG.warn("Sweep unit {} of the checkpoint {} holds another unit's tallies; computing it again", u, step.path());
        return null;
      }
    }
    return tallies.size() == expected ? tallies : null;
  }

  private static List<VariantTally> evaluateUnit(SweepSpec spec, ValidationData.Spec dataSpec,
      SerializableConfiguration conf, PartitionData rows, SweepPlan.Unit unit) {
    ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.get(), spec.threads());
    PruningCriterion criterion = spec.criterionInstance();
    if (!(criterion instanceof ReconstructingCriterion)) {
      // Every unit of an item would choose the same masks: once per JVM.
      criterion = GridMasks.sharing(criterion, masksKey(spec));
    }
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
        // Units of different slices start on different items: the first to reach an item chooses
        // its grid masks for the JVM (GridMasks) while the others choose other items' instead of
        // waiting for the same one. Tallies are merged by item and sparsity, in any order.
        List<Integer> items = new ArrayList<>(unit.items());
        java.util.Collections.rotate(items, -(unit.slice() % Math.max(1, items.size())));
        for (int i : items) {
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

  /** A unit's one result: the single element of its task's partition. */
  private static final class FirstElement extends AbstractFunction1<Iterator<ArrayList<VariantTally>>,
      ArrayList<VariantTally>> implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public ArrayList<VariantTally> apply(Iterator<ArrayList<VariantTally>> rows) {
      return rows.next();
    }
  }

  /** What a sweep's grid masks depend on besides the weights (see {@link GridMasks}). */
  static String masksKey(SweepSpec spec) {
    return String.join("|", spec.checksum(), spec.criterion(), Arrays.toString(spec.sparsities()),
        String.valueOf(spec.pattern()), Double.toString(spec.dampening()),
        spec.statistics() == null ? "-" : Long.toString(spec.statistics().id()),
        Integer.toString(spec.channelGroups().hashCode()));
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
