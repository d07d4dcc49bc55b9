package dev.lopper.jobs.pipeline;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.sweep.SweepResult;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * A run, step by step, as the command line runs it: {@link Inspect} before anything is written,
 * then on Spark {@link LoadData} and {@link Sweep}; for {@code prune} the {@link PruneMethod} the
 * criterion asks for allocates and emits, and {@link Verify}, {@link Gate} and {@link
 * RecordResults} follow, the same for every method.
 *
 * <p>Outputs in the run directory: {@code tensors.*} (the prunable tensors), {@code sensitivity.*},
 * and for {@code prune} {@code allocation.*}, {@code masks.safetensors} with {@code masks.*} (its
 * summary), {@code model/pruned.onnx}, {@code model/pruned.safetensors} and {@code verification.*};
 * with a structured criterion also {@code structure.*}, {@code cost.*} and with {@code
 * allocation.min-speedup} {@code latency.*}. Every table as Parquet and CSV.
 */
public final class Pipeline implements RunStages<InspectedModel> {

  /** {@link Inspect}, then the memory the model needs against what the run's JVMs get ({@link MemoryCheck}). */
  @Override
  public InspectedModel inspect(LopperConfig config, Configuration hadoop) {
    InspectedModel model = Inspect.model(config, hadoop);
    MemoryCheck.check(config, model);
    return model;
  }

  @Override
  public RunOutcome sensitivity(SparkSession session, LopperConfig config, InspectedModel model, RunContext run) {
    SparkRun spark = SparkRun.of(session, config);
    ValidationData data = LoadData.run(spark, config, model, run);
    try (Calibrate calibrate = new Calibrate(spark, config, model, run)) {
      SweepResult sweep = Sweep.run(spark, config, model, data, run, sweepStatistics(config, calibrate));
      return RecordResults.sensitivity(config, model, data, sweep);
    } finally {
      data.release();
    }
  }

  @Override
  public RunOutcome prune(SparkSession session, LopperConfig config, InspectedModel model, RunContext run) {
    SparkRun spark = SparkRun.of(session, config);
    ValidationData data = LoadData.run(spark, config, model, run);
    try (Calibrate calibrate = new Calibrate(spark, config, model, run)) {
      SweepResult sweep = PruneMethod.sweeps(config)
          ? Sweep.run(spark, config, model, data, run, sweepStatistics(config, calibrate)) : null;
      Emission emission = allocateAndEmit(PruneMethod.of(config, model, calibrate), sweep, run);
      Verify.Verified verified = Verify.run(spark, config, model, data, emission, run);
      GateVerdict gate = Gate.judge(config, verified, emission);
      return RecordResults.prune(config, model, data, sweep, emission, verified, gate);
    } finally {
      data.release();
    }
  }

  /**
   * What an activation-aware criterion's sweep knows of the data: every tensor's statistics on the
   * dense model (with Gram matrices for sparsegpt), which activation-aware channel criteria and
   * bias compensation read too; null for other criteria.
   */
  private static Map<String, InputStatistics> sweepStatistics(LopperConfig config, Calibrate calibrate) {
    String criterion = config.sweep().criterion();
    return CalibratedPruning.needsStatistics(criterion) || config.sweep().channelStatistics()
        ? calibrate.dense(criterion.equals("sparsegpt")).byTensor() : null;
  }

  /** The method's allocation, then its emission of what was allocated. */
  private static <P> Emission allocateAndEmit(PruneMethod<P> method, SweepResult sweep, RunContext run) {
    P plan = method.allocate(sweep, run);
    return method.emit(plan, run);
  }
}
