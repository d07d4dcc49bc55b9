package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.sweep.SensitivitySweep;
import dev.lopper.jobs.sweep.SensitivityTable;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.jobs.sweep.SweepSpec;
import dev.lopper.model.PrunableTensors;
import dev.lopper.calibration.InputStatistics;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The sweep step: the dense baseline and every swept item (tensor or channel group) at every
 * sparsity of {@code sweep.sparsities}, evaluated by Spark tasks and merged exactly ({@link
 * SensitivitySweep}). Writes {@code tensors.*}, {@code sensitivity.*} and, for structured
 * criteria, {@code structure.*}. Timed as stage {@code sweep}.
 */
public final class Sweep {

  private Sweep() {}

  /**
   * Sweeps the inspected model on {@code data} and writes the sweep's tables.
   *
   * @param statistics the tensors' calibration statistics for an activation-aware criterion, or null
   */
  public static SweepResult run(SparkRun spark, LopperConfig config, InspectedModel model, ValidationData data,
      RunContext run, Map<String, InputStatistics> statistics) {
    Broadcast<Map<String, InputStatistics>> shared = statistics == null ? null
        : JavaSparkContext.fromSparkContext(spark.session().sparkContext()).broadcast(new HashMap<>(statistics));
    try {
      return run(spark, config, model, data, run, shared);
    } finally {
      if (shared != null) {
        shared.destroy();
      }
    }
  }

  private static SweepResult run(SparkRun spark, LopperConfig config, InspectedModel model, ValidationData data,
      RunContext run, Broadcast<Map<String, InputStatistics>> statistics) {
    SweepSpec spec = new SweepSpec(model.model().source(), model.model().checksum(), model.tensors(),
        config.sweep().criterion(), config.sweep().grid(), config.data().batchSize(), spark.threads(),
        config.sweep().tensorsPerTask(), model.scoring(), model.items(),
        model.structured() ? model.structure().groups() : List.of(), config.sweep().pattern(),
        config.calibration().dampening(), statistics);
    if (spark.local()) {
      // The tasks run in this JVM: they use the driver's model rather than load a second copy.
      ExecutorModels.share(model.model(), spec.threads());
    }
    SweepResult sweep = run.timings().time("sweep",
        () -> SensitivitySweep.run(spark.session(), data, spec, spark.hadoop()));
    run.writeTable("tensors", PrunableTensors.listing(model.tensors()));
    if (model.structured()) {
      run.writeTable("structure", model.structure().report().table());
    }
    run.writeTable("sensitivity", SensitivityTable.of(sweep, model.cost()));
    return sweep;
  }
}
