package dev.lopper.jobs.pipeline;

import dev.lopper.criteria.SparsityPattern;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.calibration.CalibrationGroups;
import dev.lopper.jobs.calibration.CalibrationJob;
import dev.lopper.jobs.calibration.CalibrationSpec;
import dev.lopper.jobs.calibration.CalibrationStatistics;
import dev.lopper.jobs.calibration.Replacements;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.SequenceSpec;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.Fingerprint;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Versions;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The calibration step of activation-aware criteria and policy {@code owl}: the calibration data
 * (the validation data unless {@code calibration.data} names other rows; the first {@code
 * calibration.rows} rows in file order) and the passes that gather statistics on it ({@link
 * CalibrationJob}): one over the dense model for every tensor, or one per group of sequential
 * calibration with the earlier groups' pruned weights in place. Passes are timed as stage {@code
 * calibration}.
 */
final class Calibrate implements AutoCloseable {

  /** Sequential calibration's step name in a run's {@link Checkpoint}: one unit per group. */
  static final String CHECKPOINT_STEP = "calibration";

  private final SparkRun spark;
  private final LopperConfig config;
  private final InspectedModel model;
  private final RunContext run;
  private ValidationData data;
  private CalibrationStatistics dense;
  private boolean denseGram;

  Calibrate(SparkRun spark, LopperConfig config, InspectedModel model, RunContext run) {
    this.spark = spark;
    this.config = config;
    this.model = model;
    this.run = run;
  }

  /** The statistics of every prunable tensor on the dense model, with Gram matrices when {@code gram}. */
  CalibrationStatistics dense(boolean gram) {
    if (dense == null || (gram && !denseGram)) {
      dense = pass(model.tensors(), List.of(), gram);
      denseGram = gram;
    }
    return dense;
  }

  /**
   * Sequential calibration's passes, with Gram matrices when {@code gram}; close it after the last.
   * Each group's statistics are committed to the run's checkpoint, keyed by {@code fingerprint} (what
   * decides them) and the run's inputs, and a group a matching checkpoint holds is not gathered again.
   */
  Sequence sequence(boolean gram, CalibrationFingerprint fingerprint) {
    Fingerprint.Builder f = Fingerprint.builder().put("lopper", Versions.lopper());
    for (InputFile input : run.inputs()) {
      f.put(input.role() + " sha256", input.sha256());
    }
    fingerprint.fields().forEach((k, v) -> f.put("calibration " + k, v));
    f.put("group tensors", groups().groups().stream().map(CalibrationGroups.Group::tensors).toList())
        .put("threads", spark.threads());
    return new Sequence(gram, f.build());
  }

  /**
   * The passes of sequential calibration, one per group of {@link #groups()} in order: each group's
   * statistics on the model whose earlier groups hold their pruned weights ({@link
   * CalibrationJob.Chain}: from the values held at the previous group's frontier, so the model is
   * evaluated about twice in all). Each group's pruned weights are broadcast once ({@link
   * #replace}) and every later pass's tasks read them from that broadcast. Closing it releases the
   * held values and destroys the broadcasts.
   */
  final class Sequence implements AutoCloseable {
    private final boolean gram;
    private final List<Broadcast<Replacements>> replaced = new ArrayList<>();
    private final Checkpoint.Step checkpoint;
    private CalibrationJob.Chain chain;
    private int group;

    private Sequence(boolean gram, Fingerprint fingerprint) {
      this.gram = gram;
      int groups = groups().groups().size();
      this.checkpoint = run.checkpoint().open(CHECKPOINT_STEP, fingerprint, Map.of("groups", String.valueOf(groups)));
      if (checkpoint.resumed()) {
        checkpoint.say("lopper: calibration: " + checkpoint.committed().size() + " of " + groups
            + " groups reused from the checkpoint " + checkpoint.path() + ", "
            + (groups - checkpoint.committed().size()) + " to compute");
      }
    }

    /**
     * The statistics of {@code tensors}, the next group's, with every weight given to {@link
     * #replace} so far in place.
     */
    CalibrationStatistics next(List<PrunableTensor> tensors) {
      CalibrationSpec spec = spec(tensors, gram);
      if (chain == null) {
        Map<String, PrunableTensor> byName = new HashMap<>();
        model.tensors().forEach(t -> byName.put(t.name(), t));
        List<List<PrunableTensor>> groups = groups().groups().stream()
            .map(g -> g.tensors().stream().map(byName::get).toList()).toList();
        chain = new CalibrationJob.Chain(spark.session(), model.model(), data(), spark.hadoop(), groups);
      }
      int g = group++;
      CalibrationStatistics committed = checkpoint.committed().contains(g)
          ? checkpoint.readObject(g, CalibrationStatistics.class) : null;
      if (committed != null && committed.byTensor().keySet().containsAll(
          tensors.stream().map(PrunableTensor::name).toList())) {
        // Only the held values move on, so that the next groups start where the interrupted run's did.
        run.timings().time("calibration", () -> chain.skip(spec, replaced));
        return committed;
      }
      CalibrationStatistics statistics = run.timings().time("calibration", () -> chain.next(spec, replaced));
      checkpoint.commitObject(g, statistics);
      return statistics;
    }

    /** Puts {@code weights} (a group's pruned weights, none replaced before) in place for the next passes. */
    void replace(Map<String, WeightTensor> weights) {
      if (!weights.isEmpty()) {
        replaced.add(JavaSparkContext.fromSparkContext(spark.session().sparkContext())
            .broadcast(Replacements.of(weights)));
      }
    }

    @Override
    public void close() {
      if (chain != null) {
        chain.close();
      }
      replaced.forEach(Broadcast::destroy);
      replaced.clear();
    }
  }

  /** The statistics of {@code tensors} on the model with {@code replacements} in place. */
  private CalibrationStatistics pass(List<PrunableTensor> tensors, List<Broadcast<Replacements>> replacements,
      boolean gram) {
    CalibrationSpec spec = spec(tensors, gram);
    return run.timings().time("calibration", () -> CalibrationJob.run(spark.session(), model.model(), data(), spec,
        spark.hadoop(), replacements));
  }

  /** A pass over the calibration rows for {@code tensors}. */
  private CalibrationSpec spec(List<PrunableTensor> tensors, boolean gram) {
    if (spark.local()) {
      // The tasks run in this JVM: they use the driver's model rather than load a second copy.
      ExecutorModels.share(model.model(), spark.threads());
    }
    ValidationData rows = data();
    long available = rows.rows();
    Integer cap = config.calibration().rows();
    long used = cap == null ? available : Math.min(cap, available);
    int chunkRows = config.data().batchSize();
    int chunks = Math.toIntExact((used + chunkRows - 1) / chunkRows);
    int tasks = config.data().partitions() > 0 ? config.data().partitions()
        : spark.session().sparkContext().defaultParallelism();
    return new CalibrationSpec(model.model().source(), model.model().checksum(), tensors, gram, used,
        chunkRows, Math.max(1, Math.min(tasks, chunks)), spark.threads());
  }

  /**
   * What decides this run's calibration statistics for emission by {@code criterion} at {@code
   * sparsities} (see {@link CalibrationFingerprint}).
   */
  CalibrationFingerprint fingerprint(String criterion, SparsityPattern pattern,
      Map<String, Double> sparsities) {
    String role = config.calibration().data() != null ? "calibration" : "data";
    String sha256 = run.input(role).map(InputFile::sha256).orElse("unknown");
    Integer cap = config.calibration().rows();
    return CalibrationFingerprint.of(model.model().checksum(), sha256, cap == null ? -1 : cap,
        config.data().batchSize(), config.calibration().sequential(),
        config.calibration().byCuts() ? "cuts"
            : config.calibration().groups().isEmpty() ? "blocks" : config.calibration().groups().toString(), criterion,
        pattern.toString(), config.calibration().dampening(), sparsities);
  }

  /** The groups of sequential calibration. */
  CalibrationGroups groups() {
    if (config.calibration().byCuts()) {
      return CalibrationGroups.cuts(model.model(), model.tensors());
    }
    return CalibrationGroups.of(model.model(), model.tensors(), config.calibration().groups());
  }

  /**
   * The calibration rows, read once, in file order: the calibration file, or the validation file
   * again, inputs only, in Spark's own splits of the file in their order ({@link
   * ValidationData.Spec#FILE_ORDER}), so that "the first rows" and the chunks' global row indices
   * follow the file whatever {@code data.partitions} and the cluster's locality say. The validation
   * data itself is not reused: it may be repartitioned, or its splits coalesced by host.
   */
  private ValidationData data() {
    if (data == null) {
      ValidationData.Spec spec = inputsOnly(LoadData.spec(config, model), config.calibration().path(config.data()));
      data = run.timings().time("calibration", () -> ValidationData.load(spark.session(), spec, model.classes()));
    }
    return data;
  }

  /** The spec of the validation data for another path, in file order, without labels or targets. */
  private static ValidationData.Spec inputsOnly(ValidationData.Spec spec, String path) {
    if (spec.sequences() != null) {
      SequenceSpec s = spec.sequences();
      return ValidationData.Spec.sequences(path, new SequenceSpec(s.inputs(), s.mask(), s.tokens(), null, s.length(),
          false), ValidationData.Spec.FILE_ORDER);
    }
    return new ValidationData.Spec(path, spec.featuresColumn(), null, spec.rowShape(), ValidationData.Spec.FILE_ORDER);
  }

  @Override
  public void close() {
    if (data != null) {
      data.release();
    }
  }
}
