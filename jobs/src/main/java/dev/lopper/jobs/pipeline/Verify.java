package dev.lopper.jobs.pipeline;

import dev.lopper.io.Table;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.verify.Verification;
import dev.lopper.jobs.verify.VerificationRow;
import dev.lopper.metrics.MetricValues;
import dev.lopper.metrics.Tally;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * The verification step: the model file the emission wrote, loaded as users will load it, against
 * the dense model on the whole validation set, on Spark ({@link Verification}). Writes {@code
 * verification.*}. Timed as stage {@code verification}.
 */
public final class Verify {

  /**
   * The verified metrics.
   *
   * @param dense the dense model's merged tally
   * @param pruned the emitted model's
   * @param predictedDrop the allocation's predicted drop of the decision metric
   * @param measuredDrop the verified drop
   */
  public record Verified(Tally dense, Tally pruned, double predictedDrop, double measuredDrop) {}

  private Verify() {}

  /** Verifies {@code emission}'s model against the dense one and writes the verification table. */
  public static Verified run(SparkRun spark, LopperConfig config, InspectedModel model, ValidationData data,
      Emission emission, RunContext run) {
    Configuration hadoop = run.directory().conf();
    OnnxModel emitted = OnnxModel.load(ModelSource.onnx(emission.prunedOnnx()).qualified(hadoop), hadoop);
    if (spark.local()) {
      // The tasks run in this JVM: they use the driver's copies rather than load both models again.
      ExecutorModels.share(model.model(), spark.threads());
      ExecutorModels.share(emitted, spark.threads());
    }
    Verification.Spec spec = new Verification.Spec(model.model().source(), model.model().checksum(),
        emitted.source(), emitted.checksum(), config.data().batchSize(), spark.threads(), model.scoring());
    Verification.Result result = run.timings().time("verification",
        () -> Verification.run(spark.session(), data, spec, spark.hadoop()));
    DecisionMetric metric = config.metric();
    double measured = metric.drop(result.dense().metrics().get(metric.configName()),
        result.pruned().metrics().get(metric.configName()));
    Verified verified = new Verified(result.dense(), result.pruned(), emission.predictedDrop(), measured);
    run.writeTable("verification", table(verified));
    return verified;
  }

  private static Table table(Verified verified) {
    return VerificationRow.SCHEMA.table(List.of(
        new VerificationRow("dense", MetricValues.of(verified.dense().metrics()), verified.dense().samples(), 0.0, 0.0),
        new VerificationRow("pruned", MetricValues.of(verified.pruned().metrics()), verified.pruned().samples(),
            verified.predictedDrop(), verified.measuredDrop())));
  }
}
