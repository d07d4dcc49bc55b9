package dev.lopper.jobs.verify;

import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.Logits;
import dev.lopper.eval.VariantSession;
import dev.lopper.jobs.data.PartitionData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.Accumulator;
import dev.lopper.metrics.Scoring;
import dev.lopper.model.ModelSource;
import java.io.Serializable;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * Verification of an emitted model across the cluster: the pruned model, loaded from the file
 * that was written (so what is verified is what users get), and the dense model evaluated on the
 * whole validation set, one task per data partition; the pruned model's divergence is measured
 * against the dense outputs of the same rows.
 */
public final class Verification {

  /** Where the two models come from and how to evaluate them. */
  public record Spec(ModelSource dense, String denseChecksum, ModelSource pruned, String prunedChecksum,
      int batchSize, int threads, Scoring scoring) implements Serializable {}

  /** Merged tallies of the dense and the pruned model. */
  public record Result(Tally dense, Tally pruned) {}

  private Verification() {}

  /** Evaluates both models on every partition and merges the tallies. */
  public static Result run(SparkSession spark, ValidationData data, Spec spec,
      Broadcast<SerializableConfiguration> conf) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    jsc.setJobGroup("lopper-verify", "verification: dense against pruned " + spec.pruned().onnxPath()
        + " on " + data.partitionCount() + " partitions", true);
    ValidationData.Spec dataSpec = data.spec();
    List<Tally[]> parts = data.partitions().map(rows -> evaluate(spec, dataSpec, conf.value(), rows)).collect();
    jsc.clearJobGroup();
    Tally dense = spec.scoring().empty();
    Tally pruned = spec.scoring().empty();
    for (Tally[] part : parts) {
      dense = dense.merge(part[0]);
      pruned = pruned.merge(part[1]);
    }
    return new Result(dense, pruned);
  }

  private static Tally[] evaluate(Spec spec, ValidationData.Spec dataSpec, SerializableConfiguration conf,
      PartitionData rows) {
    Evaluator dense = ExecutorModels.get(spec.dense(), spec.denseChecksum(), conf.get(), spec.threads()).evaluator();
    Evaluator pruned = ExecutorModels.get(spec.pruned(), spec.prunedChecksum(), conf.get(), spec.threads()).evaluator();
    Accumulator denseTally = spec.scoring().accumulator();
    Accumulator prunedTally = spec.scoring().accumulator();
    try (BufferAllocator allocator = ExecutorModels.taskAllocator("verify " + rows.partition());
        VariantSession denseSession = dense.dense();
        VariantSession prunedSession = pruned.dense()) {
      List<Batch> batches = rows.batches(dataSpec, spec.batchSize(), allocator);
      try {
        for (Batch batch : batches) {
          Logits d = denseSession.logits(batch);
          Logits p = prunedSession.logits(batch);
          denseTally.add(d, batch, d);
          prunedTally.add(p, batch, d);
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    return new Tally[] {denseTally.toTally(), prunedTally.toTally()};
  }
}
