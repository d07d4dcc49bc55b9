package dev.lopper.jobs;

import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.eval.Evaluator;
import dev.lopper.io.CsvTables;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.allocation.Allocation;
import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.AllocationPolicy;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.jobs.allocation.SensitivityCurve;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.jobs.sweep.SensitivitySweep;
import dev.lopper.jobs.sweep.SensitivityTable;
import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.jobs.sweep.SweepSpec;
import dev.lopper.jobs.verify.Verification;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelCost;
import dev.lopper.structure.ChannelSelection;
import dev.lopper.structure.LatencyProbe;
import dev.lopper.structure.ModelCost;
import dev.lopper.structure.ModelShrinker;
import dev.lopper.structure.ModelStructure;
import dev.lopper.structure.ShrunkModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * The pipeline's stages on Spark, as the command line runs them: the sensitivity sweep, then for
 * {@code prune} the allocation, the masks and pruned model, their verification on the whole
 * validation set, and the quality gate's verdict.
 *
 * <p>Outputs in the run directory: {@code tensors.*} (the prunable tensors), {@code sensitivity.*},
 * and for {@code prune} {@code allocation.*}, {@code masks.safetensors} with {@code masks.*} (its
 * summary), {@code model/pruned.onnx}, {@code model/pruned.safetensors} and {@code verification.*};
 * every table as Parquet and CSV.
 *
 * <p>With a structured criterion ({@code channel-l1}, {@code channel-l2}) the swept items are the
 * model's channel groups, {@code structure.*} reports which tensors can be pruned structurally and
 * why not, the allocation is made in whole channels ({@link ChannelPruning}), {@code
 * model/pruned.onnx} is the physically smaller model (the masks are the equivalent element masks of
 * the dense tensors), {@code cost.*} compares its parameters, multiply-accumulates and bytes with
 * the dense model's, and the verification evaluates that smaller model.
 */
public final class SparkStages implements RunStages {

  /**
   * The model as the driver loaded and checked it, and what the sweep needs to know of it.
   *
   * @param structure the model's channel groups when the criterion is structured, else null
   * @param items what the sweep prunes: the tensors, or the channel groups
   * @param cost parameters and multiply-accumulates per channel group and weight; null when
   *     neither a structured criterion nor {@code allocation.unit: flops} needs them
   */
  private record Prepared(OnnxModel model, List<PrunableTensor> tensors, long[] rowShape, int classes,
      ModelStructure structure, List<SweepItem> items, ChannelCost cost) {

    boolean structured() {
      return structure != null;
    }
  }

  /** What {@link #inspect} prepared, kept for the run of the same configuration that follows it. */
  private LopperConfig inspectedConfig;
  private Prepared inspected;

  @Override
  public void inspect(LopperConfig config, Configuration hadoop) {
    inspected = prepare(config, hadoop);
    inspectedConfig = config;
  }

  /** The model loaded and checked for {@code config}: the one {@link #inspect} prepared, or anew. */
  private Prepared prepared(LopperConfig config, Configuration hadoop) {
    if (inspected != null && inspectedConfig == config) {
      Prepared p = inspected;
      inspected = null;
      inspectedConfig = null;
      return p;
    }
    return prepare(config, hadoop);
  }

  @Override
  public RunOutcome sensitivity(SparkSession spark, LopperConfig config, RunContext run) {
    Prepared p = prepared(config, run.directory().conf());
    Broadcast<SerializableConfiguration> conf = broadcastConf(spark);
    ValidationData data = run.timings().time("data", () -> loadData(spark, config, p));
    try {
      SweepResult sweep = run.timings().time("sweep", () -> SensitivitySweep.run(spark, data, sweepSpec(spark, config, p), conf));
      writeSweepTables(run, p, sweep);
      Map<String, Object> results = new LinkedHashMap<>();
      results.put("rows", data.rows());
      results.put("partitions", data.partitionCount());
      results.put("tensors", p.tensors().size());
      if (p.structured()) {
        results.put("groups", p.items().size());
      }
      results.put("variants", p.items().size() * config.sweep().grid().length);
      results.put("dense", metricsMap(sweep.baseline()));
      return RunOutcome.of(results);
    } finally {
      data.release();
    }
  }

  @Override
  public RunOutcome prune(SparkSession spark, LopperConfig config, RunContext run) {
    Prepared p = prepared(config, run.directory().conf());
    Configuration hadoop = run.directory().conf();
    Broadcast<SerializableConfiguration> conf = broadcastConf(spark);
    DecisionMetric metric = config.metric();
    ValidationData data = run.timings().time("data", () -> loadData(spark, config, p));
    try {
      SweepResult sweep = run.timings().time("sweep", () -> SensitivitySweep.run(spark, data, sweepSpec(spark, config, p), conf));
      writeSweepTables(run, p, sweep);
      if (p.structured()) {
        return pruneChannels(spark, config, run, p, data, sweep, conf);
      }

      Allocation allocation = run.timings().time("allocation", () -> allocate(config, p, sweep));
      writeTable(run, "allocation", allocation.toTable());

      MaskSet masks = run.timings().time("masks", () -> masks(config, p, allocation));
      masks.writeSafetensors(run.directory().file("masks.safetensors"), hadoop);
      writeTable(run, "masks", masks.summary());

      String prunedOnnx = run.directory().file("model/pruned.onnx");
      run.timings().time("emission", () -> {
        Map<String, WeightTensor> pruned = masks.apply(p.model().weights());
        PrunedModelWriter.writeOnnx(p.model(), pruned, prunedOnnx, hadoop);
        PrunedModelWriter.writeSafetensors(p.model(), pruned, run.directory().file("model/pruned.safetensors"), hadoop);
      });

      Verification.Result verified = verify(spark, config, run, p, data, prunedOnnx, conf);
      writeTable(run, "verification", verificationTable(verified, allocation.predictedDrop(), metric));

      double dense = verified.dense().metrics().get(metric.configName());
      double pruned = verified.pruned().metrics().get(metric.configName());
      GateVerdict gate = GateVerdict.judge(metric, dense, pruned, config.gate().maxDrop());
      Map<String, Object> results = new LinkedHashMap<>();
      results.put("rows", data.rows());
      results.put("partitions", data.partitionCount());
      results.put("tensors", p.tensors().size());
      results.put("policy", allocation.policy());
      results.put("target", config.allocation().target());
      results.put("unit", config.allocation().unit().configName());
      if (config.allocation().unit() == CostUnit.FLOPS) {
        results.put("pruned_macs_fraction", prunedMacsFraction(p, masks));
      }
      results.put("sparsity", masks.sparsity());
      results.put("pruned_parameters", masks.totalPruned());
      results.put("parameters", masks.totalParameters());
      results.put("metric", metric.configName());
      results.put("predicted_drop", allocation.predictedDrop());
      results.put("measured_drop", metric.drop(dense, pruned));
      results.put("dense", metricsMap(verified.dense()));
      results.put("pruned", metricsMap(verified.pruned()));
      return new RunOutcome(gate, results);
    } finally {
      data.release();
    }
  }

  /**
   * The structured rest of {@code prune}: allocation in whole channels (with {@code
   * allocation.min-speedup}, after timing every group's swept sparsities on ONNX Runtime: {@code
   * latency.*}), the element masks, the shrunk model and its size table, and the verification of the
   * shrunk model file.
   */
  private RunOutcome pruneChannels(SparkSession spark, LopperConfig config, RunContext run, Prepared p,
      ValidationData data, SweepResult sweep, Broadcast<SerializableConfiguration> conf) {
    CostUnit unit = config.allocation().unit();
    ChannelCriterion criterion = (ChannelCriterion) Criteria.byName(config.sweep().criterion());
    List<SensitivityCurve> curves = ChannelPruning.curves(sweep, config.metric(), p.cost(), unit);
    Double minSpeedup = config.allocation().minSpeedup();
    int latencyBatch = config.allocation().latencyBatch();
    LatencyProbe probe = null;
    try {
      ChannelPruning.LatencyPlan constrained = null;
      ChannelPruning.Plan plan;
      if (minSpeedup == null) {
        plan = run.timings().time("allocation", () -> ChannelPruning.allocate(
            AllocationPolicies.byName(config.allocation().policy(), Map::of), curves, config.allocation().settings(),
            p.items(), p.cost(), unit));
      } else {
        LatencyProbe opened = LatencyProbe.open(ChannelPruning.dense(p.structure()).onnxBytes(), p.rowShape(),
            latencyBatch, LatencyProbe.Budget.DEFAULT);
        probe = opened;
        ChannelPruning.Latency latency = run.timings().time("latency", () -> ChannelPruning.latencies(opened,
            latencyBatch, curves, p.items(), criterion, p.structure(), p.model().weights()));
        writeTable(run, "latency", latency.table());
        constrained = run.timings().time("allocation", () -> ChannelPruning.allocateMeasured(
            AllocationPolicies.byName(config.allocation().policy(), Map::of), curves, latency, minSpeedup,
            config.allocation().settings(), p.items(), p.cost(), unit, opened,
            LatencyProbe.Budget.DEFAULT.timesRounds(2), criterion, p.structure(), p.model().weights()));
        plan = constrained.plan();
      }
      return emitChannels(spark, config, run, p, data, conf, criterion, curves, plan, constrained);
    } finally {
      if (probe != null) {
        probe.close();
      }
    }
  }

  /**
   * The emission, verification and verdict of a structured {@code prune} once its plan is made;
   * with a speed-up constraint ({@code constrained} not null) the gate also judges the emitted
   * model's measured speed-up (measured in {@link ChannelPruning#allocateMeasured}, on the same
   * shrunk model).
   */
  private RunOutcome emitChannels(SparkSession spark, LopperConfig config, RunContext run, Prepared p,
      ValidationData data, Broadcast<SerializableConfiguration> conf, ChannelCriterion criterion,
      List<SensitivityCurve> curves, ChannelPruning.Plan plan, ChannelPruning.LatencyPlan constrained) {
    Configuration hadoop = run.directory().conf();
    DecisionMetric metric = config.metric();
    CostUnit unit = config.allocation().unit();
    writeTable(run, "allocation", ChannelPruning.allocationTable(plan, curves, p.items(), p.cost()));

    ChannelSelection selection = plan.selection(criterion, p.structure(), p.model().weights());
    MaskSet masks = run.timings().time("masks", () -> selection.masks(p.structure()));
    masks.writeSafetensors(run.directory().file("masks.safetensors"), hadoop);
    writeTable(run, "masks", masks.summary());

    String prunedOnnx = run.directory().file("model/pruned.onnx");
    ShrunkModel shrunk = run.timings().time("emission", () -> {
      ShrunkModel small = ModelShrinker.shrink(p.structure(), selection);
      small.writeOnnx(prunedOnnx, hadoop);
      small.writeSafetensors(run.directory().file("model/pruned.safetensors"), hadoop);
      return small;
    });
    long prunedBytes = ChannelPruning.fileBytes(prunedOnnx, hadoop);
    long denseBytes = ChannelPruning.denseBytes(p.structure());
    writeTable(run, "cost", ChannelPruning.costTable(p.structure(), shrunk, prunedBytes));

    Verification.Result verified = verify(spark, config, run, p, data, prunedOnnx, conf);
    double predicted = plan.allocation().predictedDrop();
    writeTable(run, "verification", verificationTable(verified, predicted, metric));

    double dense = verified.dense().metrics().get(metric.configName());
    double pruned = verified.pruned().metrics().get(metric.configName());
    GateVerdict gate = GateVerdict.judge(metric, dense, pruned, config.gate().maxDrop());
    LatencyProbe.Comparison measured = constrained == null ? null : constrained.measured();
    if (constrained != null) {
      gate = gate.withSpeedup(config.allocation().minSpeedup(), measured.speedup());
    }
    ModelCost before = p.cost().dense();
    ModelCost after = shrunk.cost();
    Map<String, Object> results = new LinkedHashMap<>();
    results.put("rows", data.rows());
    results.put("partitions", data.partitionCount());
    results.put("tensors", p.tensors().size());
    results.put("groups", p.items().size());
    results.put("groups_not_prunable", p.structure().groups().size() - p.structure().prunableGroups().size());
    results.put("policy", plan.allocation().policy());
    results.put("target", config.allocation().target());
    results.put("unit", unit.configName());
    results.put("policy_target", Double.isNaN(plan.policyTarget()) ? null : plan.policyTarget());
    results.put("removed_fraction", plan.removed());
    results.put("parameters", before.parameters());
    results.put("parameters_pruned", after.parameters());
    results.put("macs", before.macs());
    results.put("macs_pruned", after.macs());
    results.put("bytes", denseBytes);
    results.put("bytes_pruned", prunedBytes);
    results.put("parameter_ratio", (double) before.parameters() / after.parameters());
    results.put("mac_ratio", (double) before.macs() / after.macs());
    results.put("size_ratio", (double) denseBytes / prunedBytes);
    results.put("channels", p.items().stream().mapToLong(SweepItem::channels).sum());
    results.put("channels_pruned", p.items().stream()
        .mapToLong(i -> i.channels() - plan.kept().get(i.group())).sum());
    if (constrained != null) {
      double multiplier = constrained.constrained().multiplier();
      results.put("min_speedup", config.allocation().minSpeedup());
      results.put("latency_batch", config.allocation().latencyBatch());
      results.put("latency_multiplier", Double.isFinite(multiplier) ? multiplier : null);
      results.put("unconstrained_predicted_speedup", finiteOrNull(constrained.constrained().unconstrainedSpeedup()));
      results.put("required_predicted_speedup", constrained.required());
      results.put("latency_attempts", constrained.attempts());
      results.put("predicted_speedup", finiteOrNull(constrained.constrained().predictedSpeedup()));
      results.put("measured_speedup", measured.speedup());
      results.put("latency_dense_us", measured.denseNanos() / 1e3);
      results.put("latency_pruned_us", measured.candidateNanos() / 1e3);
    }
    results.put("metric", metric.configName());
    results.put("predicted_drop", predicted);
    results.put("measured_drop", metric.drop(dense, pruned));
    results.put("dense", metricsMap(verified.dense()));
    results.put("pruned", metricsMap(verified.pruned()));
    return new RunOutcome(gate, results);
  }

  private static Double finiteOrNull(double x) {
    return Double.isFinite(x) ? x : null;
  }

  /** Verifies the model written at {@code prunedOnnx} against the dense one on the whole data set. */
  private static Verification.Result verify(SparkSession spark, LopperConfig config, RunContext run, Prepared p,
      ValidationData data, String prunedOnnx, Broadcast<SerializableConfiguration> conf) {
    Configuration hadoop = run.directory().conf();
    OnnxModel emitted = OnnxModel.load(ModelSource.onnx(prunedOnnx).qualified(hadoop), hadoop);
    Verification.Spec spec = new Verification.Spec(p.model().source(), p.model().checksum(), emitted.source(),
        emitted.checksum(), config.data().batchSize(), threads(spark, config), p.classes());
    return run.timings().time("verification", () -> Verification.run(spark, data, spec, conf));
  }

  /** {@code tensors.*}, {@code sensitivity.*} and, for structured runs, {@code structure.*}. */
  private static void writeSweepTables(RunContext run, Prepared p, SweepResult sweep) {
    writeTable(run, "tensors", PrunableTensors.listing(p.tensors()));
    if (p.structured()) {
      writeTable(run, "structure", p.structure().report().table());
    }
    writeTable(run, "sensitivity", SensitivityTable.of(sweep, p.cost()));
  }

  /** The fraction of the pruned tensors' multiply-accumulates whose weights the masks zero. */
  private static double prunedMacsFraction(Prepared p, MaskSet masks) {
    double pruned = 0;
    double total = 0;
    for (Mask m : masks.masks()) {
      double macs = p.cost().weightMacs(m.name());
      total += macs;
      pruned += m.size() == 0 ? 0 : macs * m.prunedCount() / m.size();
    }
    return total == 0 ? 0 : pruned / total;
  }

  /**
   * Loads and checks the model on the driver: tensors, input shape, classes, the replacement probe.
   * The model's source is qualified here because executors load it again by that name, from working
   * directories of their own: a relative path resolves against the driver's.
   */
  private static Prepared prepare(LopperConfig config, Configuration hadoop) {
    ModelSource source = new ModelSource(config.model().onnx(), config.model().weights()).qualified(hadoop);
    OnnxModel model = OnnxModel.load(source, hadoop);
    List<PrunableTensor> tensors = PrunableTensors.find(model, config.model().include(), config.model().exclude());
    if (model.inputs().size() != 1) {
      throw new InvalidInputException(config.model().onnx() + ": the model has " + model.inputs().size()
          + " inputs " + model.inputs() + "; Lopper feeds one features input");
    }
    long[] dims = model.inputs().get(0).dims();
    long[] rowShape;
    if (config.data().inputShape() != null && !config.data().inputShape().isEmpty()) {
      rowShape = config.data().inputShape().stream().mapToLong(Long::longValue).toArray();
      boolean fits = rowShape.length == dims.length - 1;
      for (int i = 0; fits && i < rowShape.length; i++) {
        fits = dims[i + 1] <= 0 || dims[i + 1] == rowShape[i];
      }
      if (!fits) {
        throw new InvalidInputException("data.input-shape " + Arrays.toString(rowShape) + " does not fit input "
            + model.inputs().get(0) + " of " + config.model().onnx() + " (-1: any size; the first dimension is the batch)");
      }
    } else {
      rowShape = Arrays.copyOfRange(dims, 1, dims.length);
      if (Arrays.stream(rowShape).anyMatch(d -> d <= 0)) {
        throw new InvalidInputException(config.model().onnx() + ": input " + model.inputs().get(0)
            + " has symbolic dimensions besides the batch; set data.input-shape");
      }
    }
    int classes;
    try (Evaluator evaluator = new Evaluator(model)) {
      evaluator.checkReplacementsTakeEffect(tensors);
      long[] out = model.outputs().get(0).dims();
      classes = out.length == 2 && out[1] > 0 ? (int) out[1] : evaluator.classes(rowShape);
    }
    boolean flops = config.allocation().unit() == CostUnit.FLOPS;
    if (Criteria.byName(config.sweep().criterion()) instanceof ChannelCriterion) {
      ModelStructure structure = ModelStructure.analyse(model);
      ChannelCost cost = checkedCost(ChannelCost.of(structure), flops, config);
      return new Prepared(model, tensors, rowShape, classes, structure, ChannelPruning.items(structure, tensors), cost);
    }
    ChannelCost cost = null;
    if (flops) {
      cost = checkedCost(ChannelCost.of(model, List.of()), true, config);
      for (PrunableTensor t : tensors) {
        if (cost.weightMacs(t.name()) <= 0) {
          throw new InvalidInputException("allocation.unit flops: tensor " + t.name() + " (" + t.opType() + " node "
              + t.nodeName() + ") has no multiply-accumulates Lopper can count; exclude it or count parameters");
        }
      }
    }
    return new Prepared(model, tensors, rowShape, classes, null, tensors.stream().map(SweepItem::of).toList(), cost);
  }

  /** {@code cost}, after checking that every multiply-accumulate could be counted when FLOPs are wanted. */
  private static ChannelCost checkedCost(ChannelCost cost, boolean flops, LopperConfig config) {
    if (flops && !cost.dense().complete()) {
      List<String> unknown = cost.dense().nodes().stream().filter(n -> n.macs() < 0)
          .map(n -> n.op() + " " + n.node()).toList();
      throw new InvalidInputException("allocation.unit flops: the multiply-accumulates of " + unknown + " in "
          + config.model().onnx() + " cannot be counted (their shapes are unknown from the input shape); "
          + "count parameters instead");
    }
    return cost;
  }

  private static ValidationData loadData(SparkSession spark, LopperConfig config, Prepared p) {
    ValidationData.Spec spec = new ValidationData.Spec(config.data().path(), config.data().features(),
        config.data().hasLabels() ? config.data().label() : null, p.rowShape(), config.data().partitions());
    return ValidationData.load(spark, spec, p.classes());
  }

  private static SweepSpec sweepSpec(SparkSession spark, LopperConfig config, Prepared p) {
    SweepSpec spec = new SweepSpec(p.model().source(), p.model().checksum(), p.tensors(), config.sweep().criterion(),
        config.sweep().grid(), config.data().batchSize(), threads(spark, config),
        config.sweep().tensorsPerTask(), p.classes(), p.items(),
        p.structured() ? p.structure().groups() : List.of());
    if (spark.sparkContext().isLocal()) {
      // The tasks run in this JVM: they use the driver's model rather than load a second copy.
      ExecutorModels.share(p.model(), spec.threads());
    }
    return spec;
  }

  private static int threads(SparkSession spark, LopperConfig config) {
    if (config.runtime().threads() > 0) {
      return config.runtime().threads();
    }
    return Integer.parseInt(spark.conf().get("spark.task.cpus", "1"));
  }

  private static Broadcast<SerializableConfiguration> broadcastConf(SparkSession spark) {
    return JavaSparkContext.fromSparkContext(spark.sparkContext())
        .broadcast(new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
  }

  /** The measured curves of single tensors, as drops of the decision metric from the dense baseline. */
  static List<SensitivityCurve> curves(SweepResult sweep, DecisionMetric metric) {
    double baseline = sweep.baseline().metrics().get(metric.configName());
    double[] grid = sweep.spec().sparsities();
    List<SensitivityCurve> curves = new ArrayList<>();
    for (int t = 0; t < sweep.spec().items().size(); t++) {
      double[] drops = new double[grid.length];
      for (int s = 0; s < grid.length; s++) {
        drops[s] = metric.drop(baseline, sweep.variant(t, s).metrics().get(metric.configName()));
      }
      SweepItem tensor = sweep.spec().items().get(t);
      curves.add(new SensitivityCurve(tensor.name(), tensor.parameters(), grid, drops));
    }
    return curves;
  }

  private static Allocation allocate(LopperConfig config, Prepared p, SweepResult sweep) {
    AllocationPolicy policy = AllocationPolicies.byName(config.allocation().policy(), () -> {
      MaskSet global = globalMasks(config, p);
      Map<String, Double> fractions = new LinkedHashMap<>();
      for (Mask m : global.masks()) {
        fractions.put(m.name(), m.size() == 0 ? 0.0 : (double) m.prunedCount() / m.size());
      }
      return fractions;
    });
    List<SensitivityCurve> curves = curves(sweep, config.metric());
    if (config.allocation().unit() == CostUnit.FLOPS) {
      curves = curves.stream().map(c -> c.withCost(p.cost().weightMacs(c.tensor()))).toList();
    }
    return policy.allocate(curves, config.allocation().settings());
  }

  private static MaskSet globalMasks(LopperConfig config, Prepared p) {
    return Criteria.byName("global-magnitude").select(weights(p), config.allocation().target(),
        CriterionContext.of(p.tensors()));
  }

  /** The masks the allocation asks for: the global mask itself, or each tensor at its sparsity. */
  private static MaskSet masks(LopperConfig config, Prepared p, Allocation allocation) {
    if (allocation.policy().equals("global-magnitude")) {
      return globalMasks(config, p);
    }
    PruningCriterion criterion = Criteria.byName(config.sweep().criterion());
    CriterionContext context = CriterionContext.of(p.tensors());
    MaskSet masks = MaskSet.empty();
    Map<String, Double> sparsities = allocation.sparsities();
    for (WeightTensor w : weights(p)) {
      masks = masks.merge(criterion.select(List.of(w), sparsities.getOrDefault(w.name(), 0.0), context));
    }
    return masks;
  }

  private static List<WeightTensor> weights(Prepared p) {
    return p.tensors().stream().map(t -> p.model().weight(t.name())).toList();
  }

  private static Table verificationTable(Verification.Result verified, double predictedDrop, DecisionMetric metric) {
    Table.Builder table = Table.builder().column("model", Table.Type.STRING);
    for (String m : SensitivityTable.METRIC_COLUMNS) {
      table.column(m, Table.Type.DOUBLE);
    }
    table.column("samples", Table.Type.LONG)
        .column("predicted_drop", Table.Type.DOUBLE)
        .column("measured_drop", Table.Type.DOUBLE);
    double dense = verified.dense().metrics().get(metric.configName());
    addVerificationRow(table, "dense", verified.dense(), 0.0, 0.0);
    addVerificationRow(table, "pruned", verified.pruned(), predictedDrop,
        metric.drop(dense, verified.pruned().metrics().get(metric.configName())));
    return table.build();
  }

  private static void addVerificationRow(Table.Builder table, String name, Tally tally, double predicted, double measured) {
    double[] v = SensitivityTable.values(tally.metrics());
    Object[] row = new Object[v.length + 4];
    row[0] = name;
    for (int i = 0; i < v.length; i++) {
      row[1 + i] = v[i];
    }
    row[v.length + 1] = tally.samples();
    row[v.length + 2] = predicted;
    row[v.length + 3] = measured;
    table.row(row);
  }

  private static Map<String, Object> metricsMap(Tally tally) {
    Metrics m = tally.metrics();
    Map<String, Object> out = new LinkedHashMap<>();
    double[] v = SensitivityTable.values(m);
    for (int i = 0; i < v.length; i++) {
      out.put(SensitivityTable.METRIC_COLUMNS[i], Double.isNaN(v[i]) ? null : v[i]);
    }
    out.put("samples", m.samples());
    return out;
  }

  /** Writes {@code table} as {@code <name>.parquet} and {@code <name>.csv}. */
  private static void writeTable(RunContext run, String name, Table table) {
    ParquetTables.write(table, run.directory().file(name + ".parquet"), run.directory().conf());
    CsvTables.write(table, run.directory().file(name + ".csv"), run.directory().conf());
  }
}
