package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;

/**
 * The data step: the validation set read once on Spark, decoded and checked against the model
 * (columns, types, feature length, label range) and cached for the sweep and the verification.
 * Timed as stage {@code data}.
 */
public final class LoadData {

  private LoadData() {}

  /** Reads and caches the validation data of {@code config}; the caller releases it. */
  public static ValidationData run(SparkRun spark, LopperConfig config, InspectedModel model, RunContext run) {
    ValidationData.Spec spec = new ValidationData.Spec(config.data().path(), config.data().features(),
        config.data().hasLabels() ? config.data().label() : null, model.rowShape(), config.data().partitions());
    return run.timings().time("data", () -> ValidationData.load(spark.session(), spec, model.classes()));
  }
}
