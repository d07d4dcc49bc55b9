package dev.lopper.jobs.pipeline;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.criteria.SparsityPattern;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.allocation.Allocation;
import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.AllocationPolicy;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.jobs.allocation.SensitivityCurve;
import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.mask.Mask;
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
 * Pruning with element masks: a sparsity per tensor chosen by the allocation policy from the
 * tensors' measured curves (or one global magnitude threshold), the weights chosen by the sweep's
 * criterion, and a pruned model of the dense shape with the pruned weights zeroed.
 */
final class MaskPruning implements PruneMethod<Allocation> {

  private final LopperConfig config;
  private final InspectedModel model;
  /** The global-magnitude masks, chosen once: the allocation reads their fractions, the emission writes them. */
  private MaskSet global;

  MaskPruning(LopperConfig config, InspectedModel model) {
    this.config = config;
    this.model = model;
  }

  @Override
  public Allocation allocate(SweepResult sweep, RunContext run) {
    Allocation allocation = run.timings().time("allocation", () -> {
      boolean nmUniform = config.sweep().pattern().isNm() && config.allocation().policy().equals("uniform");
      if (sweep == null || nmUniform) {
        Map<String, Double> sparsities = new LinkedHashMap<>();
        if (config.allocation().policy().equals("global-magnitude")) {
          globalMasks().masks().forEach(m -> sparsities.put(m.name(),
              m.size() == 0 ? 0.0 : (double) m.prunedCount() / m.size()));
        } else {
          SparsityPattern pattern = config.sweep().pattern();
          double s = pattern.isNm() ? pattern.sparsity() : config.allocation().target();
          model.tensors().forEach(t -> sparsities.put(t.name(), s));
        }
        return fixed(model, config, config.allocation().policy(), sparsities, sweep);
      }
      AllocationPolicy policy = AllocationPolicies.byName(config.allocation().policy(), () -> {
        Map<String, Double> fractions = new LinkedHashMap<>();
        for (Mask m : globalMasks().masks()) {
          fractions.put(m.name(), m.size() == 0 ? 0.0 : (double) m.prunedCount() / m.size());
        }
        return fractions;
      });
      List<SensitivityCurve> curves = curves(sweep, config);
      if (config.allocation().unit() == CostUnit.FLOPS) {
        curves = curves.stream().map(c -> c.withCost(model.cost().weightMacs(c.tensor()))).toList();
      }
      return policy.allocate(curves, config.allocation().settings());
    });
    run.writeTable("allocation", allocation.toTable());
    return allocation;
  }

  @Override
  public Emission emit(Allocation allocation, RunContext run) {
    Configuration hadoop = run.directory().conf();
    MaskSet masks = run.timings().time("masks", () -> masks(allocation));
    masks.writeSafetensors(run.directory().file("masks.safetensors"), hadoop);
    run.writeTable("masks", masks.summary(model.readableNames()));

    String prunedOnnx = run.directory().file("model/pruned.onnx");
    run.timings().time("emission", () -> {
      Map<String, WeightTensor> pruned = masks.apply(model.model().weights());
      PrunedModelWriter.writeOnnx(model.model(), pruned, prunedOnnx, hadoop);
      PrunedModelWriter.writeSafetensors(model.model(), pruned, run.directory().file("model/pruned.safetensors"),
          hadoop);
    });
    boolean flops = config.allocation().unit() == CostUnit.FLOPS;
    RunResults.Masks figures = new RunResults.Masks(allocation.policy(), config.allocation().target(),
        config.allocation().unit().configName(), flops ? prunedMacsFraction(masks) : null, masks.sparsity(),
        masks.totalPruned(), masks.totalParameters(),
        config.sweep().pattern().isNm() ? config.sweep().pattern().toString() : null);
    return new Emission(prunedOnnx, allocation.predictedDrop(), List.of(figures), null, null);
  }

  /**
   * Sparsities chosen without the curves (policies uniform, owl, global-magnitude) as an allocation:
   * with the curves' predicted drops when the run swept anyway, else with unknown (NaN) drops.
   */
  static Allocation fixed(InspectedModel model, LopperConfig config, String policy, Map<String, Double> sparsities,
      SweepResult sweep) {
    Map<String, SensitivityCurve> curves = new LinkedHashMap<>();
    if (sweep != null) {
      curves(sweep, config).forEach(c -> curves.put(c.tensor(), c));
    }
    List<TensorAllocation> rows = new ArrayList<>();
    for (PrunableTensor t : model.tensors()) {
      double s = sparsities.get(t.name());
      SensitivityCurve curve = curves.get(t.name());
      rows.add(curve != null ? TensorAllocation.of(curve, s)
          : TensorAllocation.unmeasured(t.name(), t.readableName(), t.parameters(), s));
    }
    return new Allocation(policy, rows, Double.NaN);
  }

  /**
   * The measured curves of single tensors, as drops of the decision metric from the dense baseline;
   * under an N:M pattern a tensor is either dense or N:M ({@link SensitivityCurve#GRID_ONLY}).
   */
  static List<SensitivityCurve> curves(SweepResult sweep, LopperConfig config) {
    List<SensitivityCurve> curves = curves(sweep, config.metric());
    return config.sweep().pattern().isNm() ? curves.stream().map(SensitivityCurve::atGridOnly).toList() : curves;
  }

  /** The measured curves of single tensors, as drops of the decision metric from the dense baseline. */
  static List<SensitivityCurve> curves(SweepResult sweep, DecisionMetric metric) {
    double baseline = sweep.baseline().metrics().get(metric.configName());
    double[] grid = sweep.spec().sparsities();
    List<SensitivityCurve> curves = new ArrayList<>();
    for (int t = 0; t < sweep.spec().items().size(); t++) {
      double[] drops = new double[grid.length];
      for (int s = 0; s < grid.length; s++) {
        drops[s] = metric.drop(baseline, sweep.variant(t, s).metrics().get(metric.configName()));
      }
      SweepItem tensor = sweep.spec().items().get(t);
      curves.add(new SensitivityCurve(tensor.name(), tensor.node(), tensor.parameters(), grid, drops));
    }
    return curves;
  }

  /** The masks the allocation asks for: the global mask itself, or each tensor at its sparsity. */
  private MaskSet masks(Allocation allocation) {
    if (allocation.policy().equals("global-magnitude")) {
      return globalMasks();
    }
    PruningCriterion criterion = Criteria.byName(config.sweep().criterion());
    CriterionContext context = CriterionContext.of(model.tensors()).toBuilder().optPattern(config.sweep().pattern())
        .build();
    MaskSet masks = MaskSet.empty();
    Map<String, Double> sparsities = allocation.sparsities();
    for (WeightTensor w : model.weights()) {
      masks = masks.merge(criterion.select(List.of(w), sparsities.getOrDefault(w.name(), 0.0), context));
    }
    return masks;
  }

  /** One magnitude threshold over all prunable tensors at {@code allocation.target}. */
  private MaskSet globalMasks() {
    if (global == null) {
      global = Criteria.byName("global-magnitude").select(model.weights(), config.allocation().target(),
          CriterionContext.of(model.tensors()));
    }
    return global;
  }

  /** The fraction of the pruned tensors' multiply-accumulates whose weights the masks zero. */
  private double prunedMacsFraction(MaskSet masks) {
    double pruned = 0;
    double total = 0;
    for (Mask m : masks.masks()) {
      double macs = model.cost().weightMacs(m.name());
      total += macs;
      pruned += m.size() == 0 ? 0 : macs * m.prunedCount() / m.size();
    }
    return total == 0 ? 0 : pruned / total;
  }
}
