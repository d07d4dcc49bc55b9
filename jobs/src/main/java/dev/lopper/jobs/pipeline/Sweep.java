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
import java.util.List;

/**
 * The sweep step: the dense baseline and every swept item (tensor or channel group) at every
 * sparsity of {@code sweep.sparsities}, evaluated by Spark tasks and merged exactly ({@link
 * SensitivitySweep}). Writes {@code tensors.*}, {@code sensitivity.*} and, for structured
 * criteria, {@code structure.*}. Timed as stage {@code sweep}.
 */
public final class Sweep {

  private Sweep() {}

  /** Sweeps the inspected model on {@code data} and writes the sweep's tables. */
  public static SweepResult run(SparkRun spark, LopperConfig config, InspectedModel model, ValidationData data,
      RunContext run) {
    SweepSpec spec = new SweepSpec(model.model().source(), model.model().checksum(), model.tensors(),
        config.sweep().criterion(), config.sweep().grid(), config.data().batchSize(), spark.threads(),
        config.sweep().tensorsPerTask(), model.scoring(), model.items(),
        model.structured() ? model.structure().groups() : List.of());
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
