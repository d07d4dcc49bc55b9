package dev.lopper.jobs.pipeline;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.io.Safetensors;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.Table;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.AllocationPolicy;
import dev.lopper.jobs.allocation.ChannelAllocation;
import dev.lopper.jobs.allocation.ChannelAllocationRow;
import dev.lopper.jobs.allocation.CostRow;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.jobs.allocation.LatencyRow;
import dev.lopper.jobs.allocation.SensitivityCurve;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.BiasCompensation;
import dev.lopper.structure.ChannelSelection;
import dev.lopper.structure.CostComparisonRow;
import dev.lopper.structure.LatencyProbe;
import dev.lopper.structure.ModelCost;
import dev.lopper.structure.ModelShrinker;
import dev.lopper.structure.ModelStructure;
import dev.lopper.structure.ShrunkModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pruning in whole channels ({@code channel-l1}, {@code channel-l2}): the swept channel groups
 * allocated in whole channels ({@link ChannelAllocation}; with {@code allocation.min-speedup}, after
 * timing every group's swept sparsities on ONNX Runtime: {@code latency.*}), the element masks of
 * the removed channels, and the physically smaller model ({@link ModelShrinker}) with its size
 * table {@code cost.*}. The gate also judges the smaller model's measured speed-up when one is
 * required.
 *
 * <p>The activation-aware criteria ({@code channel-fluctuation}, {@code channel-wanda}) choose the
 * channels from the calibration statistics of the dense model (the run's calibration pass), bound
 * once to the criterion, so the latency measurement, the allocation and the emission keep the same
 * channels. With {@code structure.compensate} the removed channels' mean contribution is added to
 * their consumers' biases ({@link BiasCompensation}): the emitted model carries the compensated
 * biases, {@code compensation.safetensors} holds them dense (the dense model with them in place
 * and {@code masks.safetensors} applied computes what {@code model/pruned.onnx} computes), and the
 * sweep measured every group with its compensation.
 */
final class ChannelGroupPruning implements PruneMethod<ChannelGroupPruning.Plan> {
  private static final Logger LOG = LoggerFactory.getLogger(ChannelGroupPruning.class);

  /**
   * What the allocation decided.
   *
   * @param curves the groups' sensitivity curves in whole channels
   * @param plan the channels kept per group
   * @param constrained the plan chosen under {@code allocation.min-speedup} with its measurement,
   *     or null without one
   */
  record Plan(List<SensitivityCurve> curves, ChannelAllocation.Plan plan, ChannelAllocation.LatencyPlan constrained) {}

  private final LopperConfig config;
  private final InspectedModel model;
  private final Calibrate calibrate;
  private final ChannelCriterion chosen;
  private ChannelCriterion criterion;
  private Map<String, InputStatistics> statistics;

  ChannelGroupPruning(LopperConfig config, InspectedModel model, ChannelCriterion criterion, Calibrate calibrate) {
    this.config = config;
    this.model = model;
    this.chosen = criterion;
    this.calibrate = calibrate;
  }

  /**
   * Where the run's bias compensation goes, or null when {@code structure.compensate} is off or the
   * run is not structured; groups that cannot be compensated are logged.
   */
  static BiasCompensation compensation(LopperConfig config, InspectedModel model) {
    if (!model.structured() || !config.sweep().compensates()) {
      return null;
    }
    BiasCompensation compensation = BiasCompensation.of(model.model(), model.structure().groups());
    compensation.blocked().forEach((g, why) -> LOG.warn("Channel group {} ({}): {}", g,
        model.structure().group(g).name(), why));
    return compensation;
  }

  /** The criterion with the dense model's calibration statistics bound, gathered on first use. */
  private ChannelCriterion criterion() {
    if (criterion == null) {
      statistics = config.sweep().channelStatistics() ? calibrate.dense(false).byTensor() : Map.of();
      criterion = chosen.withStatistics(statistics);
    }
    return criterion;
  }

  @Override
  public Plan allocate(SweepResult sweep, RunContext run) {
    ChannelCriterion criterion = criterion();
    CostUnit unit = config.allocation().unit();
    List<SensitivityCurve> curves = ChannelAllocation.curves(sweep, config.metric(), model.cost(), unit);
    AllocationPolicy policy = AllocationPolicies.byName(config.allocation().policy(), Map::of);
    Double minSpeedup = config.allocation().minSpeedup();
    Plan plan;
    if (minSpeedup == null) {
      plan = new Plan(curves, run.timings().time("allocation", () -> ChannelAllocation.allocate(policy, curves,
          config.allocation().settings(), model.items(), model.cost(), unit)), null);
    } else {
      int batch = config.allocation().latencyBatch();
      ModelStructure structure = model.structure();
      try (LatencyProbe probe = probe(dense(structure).onnxBytes(), batch)) {
        ChannelAllocation.Latency latency = run.timings().time("latency", () -> ChannelAllocation.latencies(probe,
            batch, curves, model.items(), criterion, structure, model.cost(), model.model().weights()));
        run.writeTable("latency", LatencyRow.SCHEMA.table(latency.rows()));
        ChannelAllocation.LatencyPlan constrained = run.timings().time("allocation", () ->
            ChannelAllocation.allocateMeasured(policy, curves, latency, minSpeedup, config.allocation().settings(),
                config.allocation().targetNamed(), model.items(), model.cost(), unit, probe,
                LatencyProbe.Budget.DEFAULT, LatencyProbe.Budget.DEFAULT.timesRounds(3), criterion,
                structure, model.model().weights()));
        plan = new Plan(curves, constrained.plan(), constrained);
      }
    }
    run.writeTable("allocation", ChannelAllocationRow.SCHEMA.table(
        ChannelAllocation.allocationRows(plan.plan(), curves, model.items(), model.cost())));
    return plan;
  }

  /**
   * The latency probe on the dense model: a float model is fed {@code batch} random rows of its
   * row shape, a token model {@code batch} rows of {@code allocation.latency-sequence} tokens
   * ({@link LatencyProbe#tokenFeed}), at most its position table's rows.
   */
  private LatencyProbe probe(byte[] denseOnnx, int batch) {
    Integer sequence = latencySequence();
    if (sequence == null) {
      return LatencyProbe.open(denseOnnx, model.rowShape(), batch, LatencyProbe.Budget.DEFAULT);
    }
    if (sequence < config.allocation().latencySequence()) {
      LOG.warn("allocation.latency-sequence {} is longer than {}'s {} positions; latency is measured at {} tokens per"
          + " row", config.allocation().latencySequence(), model.model().source().onnxPath(), sequence, sequence);
    }
    LOG.info("Latency measured on {} rows x {} tokens", batch, sequence);
    try {
      return LatencyProbe.open(denseOnnx, LatencyProbe.tokenFeed(OrtRuntime.environment(), model.inputs(), batch,
          sequence), LatencyProbe.Budget.DEFAULT);
    } catch (ai.onnxruntime.OrtException e) {
      throw new IllegalStateException("cannot make the latency probe's token rows: " + e.getMessage(), e);
    }
  }

  /**
   * The tokens per row latency is measured at: {@code allocation.latency-sequence}, at most the
   * model's position table's rows; null for a model of one float input.
   */
  private Integer latencySequence() {
    if (!model.sequences()) {
      return null;
    }
    return (int) Math.min(config.allocation().latencySequence(), MemoryEstimate.positions(model.model()));
  }

  @Override
  public Emission emit(Plan plan, RunContext run) {
    Configuration hadoop = run.directory().conf();
    ModelStructure structure = model.structure();
    ChannelSelection selection = plan.plan().selection(criterion(), structure, model.model().weights());
    MaskSet masks = run.timings().time("masks", () -> selection.masks(structure));
    masks.writeSafetensors(run.directory().file("masks.safetensors"), hadoop);
    run.writeTable("masks", masks.summary(model.readableNames()));
    BiasCompensation compensation = compensation(config, model);
    Map<String, WeightTensor> biases = compensation == null ? Map.of()
        : compensation.biases(structure.groups(), selection, model.model().weights(), statistics);
    if (compensation != null) {
      List<Safetensors.Payload> payloads = biases.values().stream().map(Safetensors.Payload::f32).toList();
      Safetensors.write(run.directory().file("compensation.safetensors"), hadoop, payloads,
          Map.of("format", "pt", "producer", "lopper"));
    }

    String prunedOnnx = run.directory().file("model/pruned.onnx");
    ShrunkModel shrunk = run.timings().time("emission", () -> {
      ShrunkModel small = BiasCompensation.shrink(structure, selection, biases);
      small.writeOnnx(prunedOnnx, hadoop);
      small.writeSafetensors(run.directory().file("model/pruned.safetensors"), hadoop);
      return small;
    });
    long prunedBytes = fileBytes(prunedOnnx, hadoop);
    long denseBytes = denseBytes(structure);
    run.writeTable("cost", costTable(structure, shrunk, prunedBytes, denseBytes));

    ModelCost before = model.cost().dense();
    ModelCost after = shrunk.cost();
    ChannelAllocation.Plan p = plan.plan();
    List<Record> results = new ArrayList<>();
    // min-speedup without a named target: no target applied, none reported
    Double target = config.allocation().minSpeedup() != null && !config.allocation().targetNamed() ? null
        : config.allocation().target();
    results.add(new RunResults.Channels(structure.groups().size() - structure.prunableGroups().size(),
        p.allocation().policy(), target, config.allocation().unit().configName(),
        finiteOrNull(p.policyTarget()), p.removed(), before.parameters(), after.parameters(), before.macs(),
        after.macs(), denseBytes, prunedBytes, (double) before.parameters() / after.parameters(),
        (double) before.macs() / after.macs(), (double) denseBytes / prunedBytes,
        model.items().stream().mapToLong(SweepItem::channels).sum(),
        model.items().stream().mapToLong(i -> i.channels() - p.kept().get(i.group())).sum()));
    if (compensation != null) {
      Map<String, String> blocked = new LinkedHashMap<>();
      compensation.blocked().forEach((g, why) -> blocked.put(structure.group(g).name(), why));
      results.add(new RunResults.Compensation(biases.size(), blocked));
    }
    ChannelAllocation.LatencyPlan constrained = plan.constrained();
    if (constrained == null) {
      return new Emission(prunedOnnx, p.allocation().predictedDrop(), results, null, null);
    }
    LatencyProbe.Comparison measured = constrained.measured();
    results.add(new RunResults.Latency(config.allocation().minSpeedup(), config.allocation().latencyBatch(),
        finiteOrNull(constrained.constrained().multiplier()),
        finiteOrNull(constrained.constrained().unconstrainedSpeedup()), constrained.required(),
        constrained.attempts(), finiteOrNull(constrained.constrained().predictedSpeedup()), measured.speedup(),
        measured.denseNanos() / 1e3, measured.candidateNanos() / 1e3, latencySequence(),
        finiteOrNull(measured.speedupError()), measured.pairs().length));
    return new Emission(prunedOnnx, p.allocation().predictedDrop(), results, config.allocation().minSpeedup(),
        measured.speedup());
  }

  private static Double finiteOrNull(double x) {
    return Double.isFinite(x) ? x : null;
  }

  /**
   * The size of the dense and the shrunk model: {@link ModelCost#comparison} per node and in total,
   * with {@code bytes_dense} and {@code bytes_pruned} filled on the total row only: the ONNX file
   * of the dense model as Lopper writes models (weights embedded, no stale shapes) and the shrunk
   * model's written file (with its external-data file, if any).
   */
  private static Table costTable(ModelStructure structure, ShrunkModel shrunk, long prunedBytes, long denseBytes) {
    List<CostComparisonRow> nodes = ModelCost.comparison(ModelCost.of(structure.model()), shrunk.cost());
    List<CostRow> rows = new ArrayList<>();
    for (int r = 0; r < nodes.size(); r++) {
      boolean total = r == nodes.size() - 1;
      rows.add(new CostRow(nodes.get(r), total ? denseBytes : null, total ? prunedBytes : null));
    }
    return CostRow.SCHEMA.table(rows);
  }

  /** Bytes of the dense model written the way the shrunk one is. */
  private static long denseBytes(ModelStructure structure) {
    ShrunkModel dense = dense(structure);
    return PrunedModelWriter.onnxBytes(dense.graph(), dense.weights());
  }

  /** The dense model as Lopper writes models (weights embedded, no stale shapes): what latency is compared with. */
  private static ShrunkModel dense(ModelStructure structure) {
    return ModelShrinker.shrink(structure, ChannelSelection.none());
  }

  /** Bytes of a written ONNX model: the file and its external-data file, if there is one. */
  private static long fileBytes(String onnx, Configuration conf) {
    long bytes = HadoopFiles.length(onnx, conf);
    String data = onnx + ".data";
    return HadoopFiles.exists(data, conf) ? bytes + HadoopFiles.length(data, conf) : bytes;
  }
}
