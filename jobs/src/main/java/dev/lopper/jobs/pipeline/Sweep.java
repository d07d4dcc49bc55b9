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
import dev.lopper.jobs.output.Fingerprint;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Versions;
import dev.lopper.jobs.sweep.SweepItem;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
        config.calibration().dampening(), statistics, ChannelGroupPruning.compensation(config, model));
    if (spark.local()) {
      // The tasks run in this JVM: they use the driver's model rather than load a second copy.
      ExecutorModels.share(model.model(), spec.threads());
    }
    Fingerprint fingerprint = fingerprint(config, spec, data, run);
    SweepResult sweep = run.timings().time("sweep",
        () -> SensitivitySweep.run(spark.session(), data, spec, spark.hadoop(), run.checkpoint(), fingerprint));
    run.writeTable("tensors", PrunableTensors.listing(model.tensors()));
    if (model.structured()) {
      run.writeTable("structure", model.structure().report().table());
    }
    run.writeTable("sensitivity", SensitivityTable.of(sweep, model.cost()));
    return sweep;
  }

  /**
   * Everything that decides the sweep's tallies, for its checkpoint: Lopper's version, the inputs'
   * SHA-256 (model, weights, data, calibration data), the data's settings but its path and how its rows
   * fall into partitions, the swept items, criterion, pattern, grid, batch size, ONNX Runtime threads,
   * items per task and scoring, and for an activation-aware criterion the calibration's settings. The
   * cores the units were planned for are recorded beside it, not compared: a resumed run plans for them.
   */
  static Fingerprint fingerprint(LopperConfig config, SweepSpec spec, ValidationData data, RunContext run) {
    Fingerprint.Builder f = Fingerprint.builder().put("lopper", Versions.lopper());
    for (InputFile input : run.inputs()) {
      f.put(input.role() + " sha256", input.sha256());
    }
    f.put("model checksum", spec.checksum())
        .put("data settings", settingsBut(config, "data", "path"))
        .put("rows per partition", Arrays.toString(data.rowsPerPartition()))
        .put("items", spec.items().stream().map(SweepItem::name).toList())
        .put("criterion", spec.criterion())
        .put("pattern", spec.pattern())
        .put("sparsities", Arrays.toString(spec.sparsities()))
        .put("dampening", config.calibration().dampening())
        .put("batch size", spec.batchSize())
        .put("threads", spec.threads())
        .put("tensors per task", spec.tensorsPerTask())
        .put("scoring", spec.scoring())
        .put("compensate", spec.compensation() != null);
    if (spec.statistics() != null) {
      f.put("calibration settings", settingsBut(config, "calibration", "data"));
    }
    return f.build();
  }

  /** A section of the configuration as text, without the key {@code but} (a path whose content has its SHA-256). */
  private static String settingsBut(LopperConfig config, String section, String but) {
    Map<String, Object> values = new TreeMap<>(castSection(config.asMap().get(section)));
    values.remove(but);
    return values.toString();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> castSection(Object section) {
    return (Map<String, Object>) section;
  }
}
