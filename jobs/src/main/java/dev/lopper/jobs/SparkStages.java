package dev.lopper.jobs;

import dev.lopper.InvalidInputException;
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
import dev.lopper.jobs.allocation.SensitivityCurve;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.jobs.sweep.SensitivitySweep;
import dev.lopper.jobs.sweep.SensitivityTable;
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
 */
public final class SparkStages implements RunStages {

  /** The model as the driver loaded and checked it, and what the sweep needs to know of it. */
  private record Prepared(OnnxModel model, List<PrunableTensor> tensors, long[] rowShape, int classes) {}

  @Override
  public void inspect(LopperConfig config, Configuration hadoop) {
    prepare(config, hadoop);
  }

  @Override
  public RunOutcome sensitivity(SparkSession spark, LopperConfig config, RunContext run) {
    Prepared p = prepare(config, run.directory().conf());
    Broadcast<SerializableConfiguration> conf = broadcastConf(spark);
    ValidationData data = run.timings().time("data", () -> loadData(spark, config, p));
    try {
      SweepResult sweep = run.timings().time("sweep", () -> SensitivitySweep.run(spark, data, sweepSpec(spark, config, p), conf));
      writeTable(run, "tensors", PrunableTensors.listing(p.tensors()));
      writeTable(run, "sensitivity", SensitivityTable.of(sweep));
      Map<String, Object> results = new LinkedHashMap<>();
      results.put("rows", data.rows());
      results.put("partitions", data.partitionCount());
      results.put("tensors", p.tensors().size());
      results.put("variants", p.tensors().size() * config.sweep().grid().length);
      results.put("dense", metricsMap(sweep.baseline()));
      return RunOutcome.of(results);
    } finally {
      data.release();
    }
  }

  @Override
  public RunOutcome prune(SparkSession spark, LopperConfig config, RunContext run) {
    Prepared p = prepare(config, run.directory().conf());
    Configuration hadoop = run.directory().conf();
    Broadcast<SerializableConfiguration> conf = broadcastConf(spark);
    DecisionMetric metric = config.metric();
    ValidationData data = run.timings().time("data", () -> loadData(spark, config, p));
    try {
      SweepResult sweep = run.timings().time("sweep", () -> SensitivitySweep.run(spark, data, sweepSpec(spark, config, p), conf));
      writeTable(run, "tensors", PrunableTensors.listing(p.tensors()));
      writeTable(run, "sensitivity", SensitivityTable.of(sweep));

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

      OnnxModel emitted = OnnxModel.load(ModelSource.onnx(prunedOnnx).qualified(hadoop), hadoop);
      Verification.Spec spec = new Verification.Spec(p.model().source(), p.model().checksum(), emitted.source(),
          emitted.checksum(), config.data().batchSize(), threads(spark, config), p.classes());
      Verification.Result verified = run.timings().time("verification", () -> Verification.run(spark, data, spec, conf));
      writeTable(run, "verification", verificationTable(verified, allocation, metric));

      double dense = verified.dense().metrics().get(metric.configName());
      double pruned = verified.pruned().metrics().get(metric.configName());
      GateVerdict gate = GateVerdict.judge(metric, dense, pruned, config.gate().maxDrop());
      Map<String, Object> results = new LinkedHashMap<>();
      results.put("rows", data.rows());
      results.put("partitions", data.partitionCount());
      results.put("tensors", p.tensors().size());
      results.put("policy", allocation.policy());
      results.put("target", config.allocation().target());
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
    return new Prepared(model, tensors, rowShape, classes);
  }

  private static ValidationData loadData(SparkSession spark, LopperConfig config, Prepared p) {
    ValidationData.Spec spec = new ValidationData.Spec(config.data().path(), config.data().features(),
        config.data().hasLabels() ? config.data().label() : null, p.rowShape(), config.data().partitions());
    return ValidationData.load(spark, spec, p.classes());
  }

  private static SweepSpec sweepSpec(SparkSession spark, LopperConfig config, Prepared p) {
    return new SweepSpec(p.model().source(), p.model().checksum(), p.tensors(), config.sweep().criterion(),
        config.sweep().grid(), config.data().batchSize(), threads(spark, config),
        config.sweep().tensorsPerTask(), p.classes());
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

  /** The measured curves, as drops of the decision metric from the dense baseline. */
  static List<SensitivityCurve> curves(SweepResult sweep, DecisionMetric metric) {
    double baseline = sweep.baseline().metrics().get(metric.configName());
    double[] grid = sweep.spec().sparsities();
    List<SensitivityCurve> curves = new ArrayList<>();
    for (int t = 0; t < sweep.spec().tensors().size(); t++) {
      double[] drops = new double[grid.length];
      for (int s = 0; s < grid.length; s++) {
        drops[s] = metric.drop(baseline, sweep.variant(t, s).metrics().get(metric.configName()));
      }
      PrunableTensor tensor = sweep.spec().tensors().get(t);
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
    return policy.allocate(curves(sweep, config.metric()), config.allocation().settings());
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

  private static Table verificationTable(Verification.Result verified, Allocation allocation, DecisionMetric metric) {
    Table.Builder table = Table.builder().column("model", Table.Type.STRING);
    for (String m : SensitivityTable.METRIC_COLUMNS) {
      table.column(m, Table.Type.DOUBLE);
    }
    table.column("samples", Table.Type.LONG)
        .column("predicted_drop", Table.Type.DOUBLE)
        .column("measured_drop", Table.Type.DOUBLE);
    double dense = verified.dense().metrics().get(metric.configName());
    addVerificationRow(table, "dense", verified.dense(), 0.0, 0.0);
    addVerificationRow(table, "pruned", verified.pruned(), allocation.predictedDrop(),
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
