package dev.lopper.jobs.pipeline;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.OwlRatios;
import dev.lopper.criteria.WandaCriterion;
import dev.lopper.metrics.ExactSum;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.criteria.ReconstructingCriterion;
import dev.lopper.criteria.SparsityPattern;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.allocation.Allocation;
import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.jobs.allocation.SensitivityCurve;
import dev.lopper.jobs.calibration.CalibrationGroups;
import dev.lopper.jobs.calibration.CalibrationStatistics;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunedModelWriter;
import dev.lopper.model.WeightTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Pruning from calibration statistics: criteria {@code wanda} and {@code sparsegpt}, and policy
 * {@code owl} with any unstructured criterion. The allocation takes the measured curves when the
 * policy needs them ({@code target}, {@code tolerance}), the target itself ({@code uniform}), or
 * OWL's outlier-weighted sparsities per calibration group from the dense model's Wanda scores. The
 * emission prunes tensor by tensor with the criterion and the statistics of its consumer's input:
 * gathered once on the dense model, or with {@code calibration.sequential} group by group on the
 * model whose earlier groups are already pruned (and, for sparsegpt, reconstructed), as the
 * reference implementations do. The pruned model holds the criterion's weights: the dense ones
 * under the masks, or SparseGPT's updated ones.
 */
final class CalibratedPruning implements PruneMethod<Allocation> {

  private final LopperConfig config;
  private final InspectedModel model;
  private final Calibrate calibrate;
  private final PruningCriterion criterion;
  private final SparsityPattern pattern;

  CalibratedPruning(LopperConfig config, InspectedModel model, Calibrate calibrate) {
    this.config = config;
    this.model = model;
    this.calibrate = calibrate;
    this.criterion = Criteria.configured(config.sweep().criterion(), config.calibration().dampening());
    this.pattern = config.sweep().pattern();
  }

  /** Whether {@code criterion} reads calibration statistics. */
  static boolean needsStatistics(String criterion) {
    return criterion.equals("wanda") || criterion.equals("sparsegpt");
  }

  /** Whether the run prunes from calibration statistics: an activation-aware criterion or policy owl. */
  static boolean applies(LopperConfig config) {
    return needsStatistics(config.sweep().criterion()) || config.allocation().policy().equals("owl");
  }

  @Override
  public Allocation allocate(SweepResult sweep, RunContext run) {
    String policy = config.allocation().policy();
    Allocation allocation;
    if (policy.equals("owl")) {
      CalibrationStatistics dense = calibrate.dense(false); // timed as stage calibration
      allocation = run.timings().time("allocation",
          () -> MaskPruning.fixed(model, config, "owl", owlSparsities(dense), sweep));
    } else if (sweep == null || (pattern.isNm() && policy.equals("uniform"))) {
      double s = pattern.isNm() ? pattern.sparsity() : config.allocation().target();
      Map<String, Double> sparsities = new LinkedHashMap<>();
      model.tensors().forEach(t -> sparsities.put(t.name(), s));
      allocation = MaskPruning.fixed(model, config, policy, sparsities, sweep);
    } else {
      allocation = run.timings().time("allocation", () -> {
        List<SensitivityCurve> curves = MaskPruning.curves(sweep, config);
        if (config.allocation().unit() == CostUnit.FLOPS) {
          curves = curves.stream().map(c -> c.withCost(model.cost().weightMacs(c.tensor()))).toList();
        }
        // global-magnitude is refused with these criteria when the configuration is read.
        return AllocationPolicies.byName(policy, () -> {
          throw new IllegalStateException("global-magnitude is not a policy of calibrated pruning");
        }).allocate(curves, config.allocation().settings());
      });
    }
    run.writeTable("allocation", allocation.toTable());
    return allocation;
  }

  /**
   * OWL's sparsity per tensor: each calibration group's from the share of its Wanda scores (on the
   * dense model) above {@code allocation.owl-m} times their mean.
   */
  private Map<String, Double> owlSparsities(CalibrationStatistics dense) {
    CalibrationGroups groups = calibrate.groups();
    CriterionContext.Builder builder = CriterionContext.of(model.tensors()).toBuilder();
    dense.byTensor().forEach(builder::optInputStatistics);
    CriterionContext context = builder.build();
    double[] ratios = new double[groups.groups().size()];
    for (int g = 0; g < ratios.length; g++) {
      // Two passes over the group's scores (the exact mean, then the count above m times it), one
      // tensor's scores at a time: a block of a large model need not hold all its scores at once.
      ExactSum sum = new ExactSum();
      long count = 0;
      for (String tensor : groups.groups().get(g).tensors()) {
        for (double v : WandaCriterion.instance().scores(model.model().weight(tensor), context)) {
          sum.add(v);
          count++;
        }
      }
      double threshold = OwlRatios.threshold(sum, count, config.allocation().owlM());
      long outliers = 0;
      for (String tensor : groups.groups().get(g).tensors()) {
        for (double v : WandaCriterion.instance().scores(model.model().weight(tensor), context)) {
          outliers += v > threshold ? 1 : 0;
        }
      }
      ratios[g] = OwlRatios.outlierRatio(outliers, count);
    }
    double[] perGroup = OwlRatios.sparsities(ratios, config.allocation().target(), config.allocation().owlLambda());
    Map<String, Double> out = new LinkedHashMap<>();
    for (int g = 0; g < perGroup.length; g++) {
      for (String tensor : groups.groups().get(g).tensors()) {
        out.put(tensor, perGroup[g]);
      }
    }
    return out;
  }

  @Override
  public Emission emit(Allocation allocation, RunContext run) {
    Configuration hadoop = run.directory().conf();
    Map<String, Double> sparsities = allocation.sparsities();
    boolean gram = criterion instanceof ReconstructingCriterion;
    boolean statistics = needsStatistics(criterion.name());
    MaskSet masks = MaskSet.empty();
    Map<String, WeightTensor> pruned = new LinkedHashMap<>();
    Map<String, InputStatistics> used = new LinkedHashMap<>();
    CalibrationFingerprint fingerprint = statistics ? calibrate.fingerprint(criterion.name(), pattern, sparsities)
        : null;
    String from = config.calibration().from();
    if (statistics && from != null) {
      used.putAll(CalibrationOutput.read(CalibrationOutput.file(from), model, fingerprint, hadoop));
      masks = run.timings().time("masks", () -> prune(model.tensors(), sparsities, used, pruned));
    } else if (statistics && config.calibration().isSequential()) {
      try (Calibrate.Sequence passes = calibrate.sequence(gram, fingerprint)) {
        for (CalibrationGroups.Group group : calibrate.groups().groups()) {
          List<PrunableTensor> tensors = group.tensors().stream().map(this::tensor).toList();
          CalibrationStatistics stats = passes.next(tensors);
          for (PrunableTensor t : tensors) {
            used.put(t.name(), stats.forTensor(t.name()));
          }
          Map<String, WeightTensor> groupWeights = new LinkedHashMap<>();
          MaskSet groupMasks = run.timings().time("masks", () -> prune(tensors, sparsities, used, groupWeights));
          masks = masks.merge(groupMasks);
          pruned.putAll(groupWeights);
          passes.replace(groupWeights);
        }
      }
    } else {
      if (statistics) {
        used.putAll(calibrate.dense(gram).byTensor());
      }
      masks = run.timings().time("masks", () -> prune(model.tensors(), sparsities, used, pruned));
    }
    MaskSet all = masks;
    all.writeSafetensors(run.directory().file("masks.safetensors"), hadoop);
    run.writeTable("masks", all.summary(model.readableNames()));
    if (statistics) {
      CalibrationOutput.write(run, model, used, gram, fingerprint);
    }
    String prunedOnnx = run.directory().file("model/pruned.onnx");
    run.timings().time("emission", () -> {
      Map<String, WeightTensor> weights = new LinkedHashMap<>(model.model().weights());
      weights.putAll(pruned);
      PrunedModelWriter.writeOnnx(model.model(), weights, prunedOnnx, hadoop);
      PrunedModelWriter.writeSafetensors(model.model(), weights, run.directory().file("model/pruned.safetensors"),
          hadoop);
    });
    RunResults.Masks figures = new RunResults.Masks(allocation.policy(), config.allocation().target(),
        config.allocation().unit().configName(), null, all.sparsity(), all.totalPruned(), all.totalParameters(),
        pattern.isNm() ? pattern.toString() : null);
    return new Emission(prunedOnnx, allocation.predictedDrop(), List.of(figures), null, null);
  }

  /**
   * Prunes {@code tensors} at their sparsities with the criterion and their statistics; puts the
   * pruned weights into {@code pruned} and returns their masks.
   */
  private MaskSet prune(List<PrunableTensor> tensors, Map<String, Double> sparsities,
      Map<String, InputStatistics> statistics, Map<String, WeightTensor> pruned) {
    CriterionContext.Builder builder = CriterionContext.of(model.tensors()).toBuilder().optPattern(pattern);
    statistics.forEach(builder::optInputStatistics);
    CriterionContext context = builder.build();
    MaskSet masks = MaskSet.empty();
    for (PrunableTensor t : tensors) {
      WeightTensor w = model.model().weight(t.name());
      double s = sparsities.getOrDefault(t.name(), 0.0);
      if (criterion instanceof ReconstructingCriterion reconstructing) {
        ReconstructingCriterion.PrunedWeights result =
            reconstructing.pruneGrid(List.of(w), new double[] {s}, context).get(0);
        masks = masks.merge(result.masks());
        pruned.putAll(result.weights());
      } else {
        MaskSet m = criterion.select(List.of(w), s, context);
        masks = masks.merge(m);
        pruned.putAll(m.apply(Map.of(t.name(), w)));
      }
    }
    return masks;
  }

  private PrunableTensor tensor(String name) {
    return model.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
  }
}
