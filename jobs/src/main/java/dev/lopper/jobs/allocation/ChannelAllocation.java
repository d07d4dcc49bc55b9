package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.sweep.SensitivityTable;
import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelCost;
import dev.lopper.structure.ChannelSelection;
import dev.lopper.structure.GroupSignature;
import dev.lopper.structure.LatencyProbe;
import dev.lopper.structure.ModelShrinker;
import dev.lopper.structure.ModelStructure;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleFunction;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Allocation in whole channels, on the driver: the channel groups' sensitivity curves over the
 * fractions of channels the swept sparsities remove, the allocation counted exactly in the model's
 * parameters or multiply-accumulates, and under a speed-up constraint the groups' measured latency
 * and the allocation measured until it is fast enough.
 *
 * <pre>{@code
 * List<SensitivityCurve> curves = ChannelAllocation.curves(sweep, metric, cost, unit);
 * ChannelAllocation.Plan plan = ChannelAllocation.allocate(policy, curves, settings, items, cost, unit);
 * ShrunkModel small = ModelShrinker.shrink(structure, plan.selection(criterion, structure, weights));
 * }</pre>
 */
public final class ChannelAllocation {
  private static final Logger LOG = LoggerFactory.getLogger(ChannelAllocation.class);

  private ChannelAllocation() {}

  /** What removing all of a group saves, counted as {@code unit}: per-channel saving times channels. */
  public static double cost(SweepItem item, ChannelCost cost, CostUnit unit) {
    Map<Integer, Long> oneLess = Map.of(item.group(), item.channels() - 1);
    long saved = unit == CostUnit.PARAMETERS
        ? cost.dense().parameters() - cost.parameters(oneLess)
        : cost.dense().macs() - cost.macs(oneLess);
    return (double) saved * item.channels();
  }

  /**
   * One curve per group, over the fractions of its channels the grid's sparsities remove ({@code
   * round(s × C) / C}; sparsities that remove the same channels are one point, those that remove
   * none or all are left out: a group keeps at least one channel). A group with no such point, or
   * whose removal saves nothing in {@code unit}, has no curve and keeps its channels.
   */
  public static List<SensitivityCurve> curves(SweepResult sweep, DecisionMetric metric, ChannelCost cost, CostUnit unit) {
    double baseline = sweep.baseline().metrics().get(metric.configName());
    double[] grid = sweep.spec().sparsities();
    List<SensitivityCurve> curves = new ArrayList<>();
    for (int i = 0; i < sweep.spec().items().size(); i++) {
      SweepItem item = sweep.spec().items().get(i);
      List<Double> fractions = new ArrayList<>();
      List<Double> drops = new ArrayList<>();
      long last = 0;
      for (int s = 0; s < grid.length; s++) {
        long removed = SensitivityTable.prunedChannels(item.channels(), grid[s]);
        if (removed <= last || removed >= item.channels()) {
          continue;
        }
        last = removed;
        fractions.add(removed / (double) item.channels());
        drops.add(metric.drop(baseline, sweep.variant(i, s).metrics().get(metric.configName())));
      }
      double saved = cost(item, cost, unit);
      if (fractions.isEmpty() || saved <= 0) {
        continue;
      }
      curves.add(new SensitivityCurve(item.name(), null, item.parameters(),
          fractions.stream().mapToDouble(Double::doubleValue).toArray(),
          drops.stream().mapToDouble(Double::doubleValue).toArray(), saved, item.channels()));
    }
    return curves;
  }

  /**
   * The allocation of a structured run and what it removes.
   *
   * @param allocation per group with a curve: its sparsity, a multiple of 1/C
   * @param policyTarget the target the policy was given to reach {@code removed} (NaN for policies
   *     without a target)
   * @param removed the fraction of the model's cost, in the run's unit, the allocation removes
   * @param kept channels kept per group id, for every swept group
   */
  public record Plan(Allocation allocation, double policyTarget, double removed, Map<Integer, Long> kept) {

    /** The kept channels of every group, chosen by {@code criterion} from the weights. */
    public ChannelSelection selection(ChannelCriterion criterion, ModelStructure structure,
        Map<String, WeightTensor> weights) {
      Map<Integer, Double> sparsities = new LinkedHashMap<>();
      kept.forEach((id, k) -> {
        long channels = structure.group(id).channels();
        if (k < channels) {
          sparsities.put(id, (channels - k) / (double) channels);
        }
      });
      return criterion.selection(structure.groups(), sparsities, weights);
    }
  }

  /**
   * Allocates channels: policies with a target are calibrated so that the model loses at least
   * {@code settings.target()} of its cost ({@link TargetCalibration}); the others are taken in whole
   * channels.
   */
  public static Plan allocate(AllocationPolicy policy, List<SensitivityCurve> curves, AllocationSettings settings,
      List<SweepItem> items, ChannelCost cost, CostUnit unit) {
    if (curves.isEmpty()) {
      throw new InvalidInputException("no swept channel group can lose a channel at the swept sparsities "
          + "(each would keep all or none of its channels); sweep other sparsities");
    }
    Map<String, SweepItem> byName = new LinkedHashMap<>();
    items.forEach(i -> byName.put(i.name(), i));
    if (policy.name().equals("tolerance")) {
      Allocation allocation = TargetCalibration.inUnits(policy.allocate(curves, settings), curves);
      return new Plan(allocation, Double.NaN, removed(allocation.sparsities(), byName, cost, unit),
          kept(allocation.sparsities(), items));
    }
    TargetCalibration.Result r = TargetCalibration.reach(policy, curves, settings,
        sparsities -> removed(sparsities, byName, cost, unit));
    return new Plan(r.allocation(), r.policyTarget(), r.removed(), kept(r.allocation().sparsities(), items));
  }

  /**
   * The measured latency savings of a structured run.
   *
   * @param curves per curve name, the saving of the dense latency with that group alone pruned at
   *     each of its curve's sparsities
   * @param rows {@code latency.*}: per (group, sparsity) {@code tensor}, {@code sparsity}, {@code
   *     channels}, {@code kept_channels}, {@code batch}, {@code dense_us} (the median of the round
   *     medians), {@code pruned_us}, {@code speedup} and {@code saving} (the group's share: the
   *     timed model's saving, {@code 1 − ratio} with the ratio of pruned to dense taken over paired
   *     runs ({@link LatencyProbe.Comparison#ratio()}), divided by {@code timed_with}; {@code
   *     pruned_us} is {@code dense_us × (1 − saving)} and {@code speedup} {@code 1 / (1 − saving)}),
   *     and {@code timed_with}, the groups pruned together in the timed model (1: the group alone)
   */
  public record Latency(Map<String, LatencyCurve> curves, List<LatencyRow> rows) {}

  /**
   * Times, at each of the curves' sparsities, models with groups pruned (kept channels chosen by
   * {@code criterion}, shrunk by {@link ModelShrinker}, as the emission does) against the dense
   * model, with {@code probe}. Groups that cost alike ({@link GroupSignature}: a transformer's
   * blocks) and share their curve's sparsities are timed together, all pruned at once, and each is
   * given an equal share of the saving: one timing per sparsity instead of one per group, and a
   * saving as many times larger than the timing noise as there are groups. Any other group is timed
   * alone.
   */
  public static Latency latencies(LatencyProbe probe, int batch, List<SensitivityCurve> curves, List<SweepItem> items,
      ChannelCriterion criterion, ModelStructure structure, ChannelCost cost, Map<String, WeightTensor> weights) {
    Map<String, SweepItem> byName = new LinkedHashMap<>();
    items.forEach(i -> byName.put(i.name(), i));
    Map<Integer, String> signatures = GroupSignature.of(structure, cost);
    Map<String, List<SensitivityCurve>> alike = new LinkedHashMap<>();
    for (SensitivityCurve curve : curves) {
      String key = signatures.get(byName.get(curve.tensor()).group()) + " @ " + Arrays.toString(curve.sparsities());
      alike.computeIfAbsent(key, k -> new ArrayList<>()).add(curve);
    }
    int timings = alike.values().stream().mapToInt(a -> a.get(0).sparsities().length).sum();
    Map<String, double[]> savings = new LinkedHashMap<>();
    Map<String, List<LatencyRow>> rows = new LinkedHashMap<>();
    int timed = 0;
    for (List<SensitivityCurve> together : alike.values()) {
      double[] sparsities = together.get(0).sparsities();
      for (int k = 0; k < sparsities.length; k++) {
        Map<Integer, Double> pruned = new LinkedHashMap<>();
        for (SensitivityCurve curve : together) {
          pruned.put(byName.get(curve.tensor()).group(), sparsities[k]);
        }
        ChannelSelection selection = criterion.selection(structure.groups(), pruned, weights);
        LatencyProbe.Comparison c = probe.against(ModelShrinker.shrink(structure, selection).onnxBytes());
        double share = Math.min(1.0, c.saving()) / together.size();
        double shareError = c.ratioError() / together.size();
        double denseUs = c.denseNanos() / 1e3;
        LOG.info(String.format(Locale.ROOT, "Latency %d/%d: %s at sparsity %s%s: %.1f%% (+- %.1f) of %.0f us saved%s,"
            + " %d pairs", ++timed, timings, together.get(0).tensor(), sparsities[k],
            together.size() > 1 ? " and " + (together.size() - 1) + (together.size() == 2 ? " group" : " groups")
            + " alike" : "", 100 * c.saving(),
            100 * c.ratioError(), denseUs,
            together.size() > 1 ? String.format(Locale.ROOT, ", %.2f%% each", 100 * share) : "", c.pairs().length));
        for (SensitivityCurve curve : together) {
          SweepItem item = byName.get(curve.tensor());
          savings.computeIfAbsent(curve.tensor(), t -> new double[sparsities.length])[k] = share;
          long kept = selection.kept(item.group()).map(a -> (long) a.length).orElse(item.channels());
          rows.computeIfAbsent(curve.tensor(), t -> new ArrayList<>()).add(new LatencyRow(item.name(), sparsities[k],
              item.channels(), kept, batch, denseUs, denseUs * (1 - share), 1 / (1 - share), share,
              together.size(), shareError, c.pairs().length));
        }
      }
    }
    Map<String, LatencyCurve> out = new LinkedHashMap<>();
    List<LatencyRow> table = new ArrayList<>();
    for (SensitivityCurve curve : curves) {
      out.put(curve.tensor(), new LatencyCurve(curve.tensor(), curve.sparsities(), savings.get(curve.tensor())));
      table.addAll(rows.get(curve.tensor()));
    }
    return new Latency(out, table);
  }

  /**
   * A plan chosen under a speed-up constraint.
   *
   * @param plan the allocation and what it removes
   * @param constrained the multiplier, the predicted speed-up and the plain policy's
   * @param measured the shrunk model of this plan timed against the dense model (null until measured)
   * @param required the predicted speed-up the allocation was asked for
   * @param attempts plans measured in all (1 when the first one measured fast enough)
   */
  public record LatencyPlan(Plan plan, LatencyConstrainedAllocation.Result constrained, LatencyProbe.Comparison measured,
      double required, int attempts) {}

  /** Allocations measured at most, raising the predicted speed-up asked for after each that measures too slow. */
  public static final int LATENCY_ATTEMPTS = 3;

  /**
   * The constrained allocation, measured: the plan for a predicted {@code minSpeedup} is shrunk and
   * timed against the dense model until the measurement tells its speed-up apart from {@code
   * minSpeedup} ({@link LatencyProbe#against(byte[], LatencyProbe.Budget, LatencyProbe.Budget,
   * double)}: {@code start}'s rounds, more up to {@code most}'s while the speed-up lies within
   * {@link LatencyProbe#DECISION_Z} standard errors of the bar). A plan measured clearly faster is
   * taken. One that measures slower (savings of groups measured apart do not add up exactly, and
   * each was measured with an error) raises the predicted speed-up asked for by the shortfall
   * ({@code required × minSpeedup / measured}); one that reaches the bar by its median but stays
   * within the errors asks for the next plan (past its prediction). Then the allocation is made
   * again, up to {@link #LATENCY_ATTEMPTS} plans measured; a requirement that gives a plan already
   * measured is raised past that plan's prediction first, so every attempt measures a new plan.
   * When no plan is measured clearly fast enough, the last one is returned, or the last one that
   * reached the bar by its median if the last did not (the gate judges the figure); when a raised
   * requirement cannot be predicted, the plans measured so far decide the same way. Without a cost
   * target ({@code withTarget} false: the configuration names no {@code allocation.target}) each
   * attempt is a {@link SpeedupAllocation} instead of the policy's.
   *
   * @throws InvalidInputException when not even {@code minSpeedup} can be predicted
   */
  public static LatencyPlan allocateMeasured(AllocationPolicy policy, List<SensitivityCurve> curves, Latency latency,
      double minSpeedup, AllocationSettings settings, boolean withTarget, List<SweepItem> items, ChannelCost cost,
      CostUnit unit, LatencyProbe probe, LatencyProbe.Budget start, LatencyProbe.Budget most,
      ChannelCriterion criterion, ModelStructure structure, Map<String, WeightTensor> weights) {
    return allocateMeasured(policy, curves, latency, minSpeedup, settings, withTarget, items, cost, unit, plan ->
        probe.against(ModelShrinker.shrink(structure, plan.selection(criterion, structure, weights)).onnxBytes(),
            start, most, minSpeedup));
  }

  /** The loop of the measured allocation, with {@code measure} timing a plan's smaller model against the dense one. */
  static LatencyPlan allocateMeasured(AllocationPolicy policy, List<SensitivityCurve> curves, Latency latency,
      double minSpeedup, AllocationSettings settings, boolean withTarget, List<SweepItem> items, ChannelCost cost,
      CostUnit unit, Function<Plan, LatencyProbe.Comparison> measure) {
    DoubleFunction<LatencyPlan> allocation = r -> withTarget
        ? allocate(policy, curves, latency, r, settings, items, cost, unit)
        : allocateBySpeedup(curves, latency, r, settings, items, cost, unit);
    double required = minSpeedup;
    LatencyPlan last = null;
    LatencyPlan reached = null;
    List<Map<Integer, Long>> measuredPlans = new ArrayList<>();
    for (int attempt = 1; attempt <= LATENCY_ATTEMPTS; attempt++) {
      LatencyPlan next;
      try {
        next = allocation.apply(required);
        // A plan measured already: ask for more than it predicts until the plan changes.
        while (measuredPlans.contains(next.plan().kept())) {
          double predicted = next.constrained().predictedSpeedup();
          if (!(predicted >= required) || !Double.isFinite(predicted)) {
            throw new InvalidInputException("no other plan predicted at " + required);
          }
          required = Math.nextUp(predicted);
          next = allocation.apply(required);
        }
      } catch (InvalidInputException e) {
        if (last == null) {
          throw e;
        }
        LOG.info("Latency plan {}: a predicted speed-up of {} cannot be allocated; no further plan", attempt,
            String.format(Locale.ROOT, "%.3f", required));
        break;
      }
      LatencyProbe.Comparison measured = measure.apply(next.plan());
      measuredPlans.add(next.plan().kept());
      last = new LatencyPlan(next.plan(), next.constrained(), measured, required, attempt);
      LOG.info(String.format(Locale.ROOT, "Latency plan %d: asked %.3fx, predicted %.3fx, measured %.3fx +- %.3f"
          + " (%d pairs)", attempt, required, next.constrained().predictedSpeedup(), measured.speedup(),
          measured.speedupError(), measured.pairs().length));
      if (measured.speedup() >= minSpeedup) {
        if (measured.decides(minSpeedup, LatencyProbe.DECISION_Z)) {
          return last;
        }
        // Fast enough by its median but within two standard errors of the bar: the next plan.
        reached = last;
        double predicted = next.constrained().predictedSpeedup();
        required = Math.nextUp(Double.isFinite(predicted) ? Math.max(required, predicted) : required);
      } else {
        required = required * minSpeedup / measured.speedup();
      }
    }
    // No plan measured clearly fast enough: the last that reached the bar by its median, if any.
    LatencyPlan chosen = last.measured().speedup() >= minSpeedup || reached == null ? last : reached;
    return new LatencyPlan(chosen.plan(), chosen.constrained(), chosen.measured(), chosen.required(),
        measuredPlans.size());
  }

  /**
   * Allocates channels with policy {@code target} so that the model loses at least {@code
   * settings.target()} of its cost and is predicted to run at least {@code minSpeedup} times faster
   * ({@link LatencyConstrainedAllocation}).
   */
  public static LatencyPlan allocate(AllocationPolicy policy, List<SensitivityCurve> curves, Latency latency,
      double minSpeedup, AllocationSettings settings, List<SweepItem> items, ChannelCost cost, CostUnit unit) {
    if (curves.isEmpty()) {
      throw new InvalidInputException("no swept channel group can lose a channel at the swept sparsities "
          + "(each would keep all or none of its channels); sweep other sparsities");
    }
    Map<String, SweepItem> byName = new LinkedHashMap<>();
    items.forEach(i -> byName.put(i.name(), i));
    LatencyConstrainedAllocation.Result r = LatencyConstrainedAllocation.reach(policy, curves, latency.curves(),
        settings, minSpeedup, sparsities -> removed(sparsities, byName, cost, unit));
    TargetCalibration.Result c = r.calibrated();
    return new LatencyPlan(new Plan(c.allocation(), c.policyTarget(), c.removed(), kept(c.allocation().sparsities(),
        items)), r, null, minSpeedup, 1);
  }

  /**
   * Allocates channels without a cost target so that the model is predicted to run at least {@code
   * minSpeedup} times faster, least measured loss per saved time first ({@link SpeedupAllocation}).
   */
  public static LatencyPlan allocateBySpeedup(List<SensitivityCurve> curves, Latency latency, double minSpeedup,
      AllocationSettings settings, List<SweepItem> items, ChannelCost cost, CostUnit unit) {
    if (curves.isEmpty()) {
      throw new InvalidInputException("no swept channel group can lose a channel at the swept sparsities "
          + "(each would keep all or none of its channels); sweep other sparsities");
    }
    Map<String, SweepItem> byName = new LinkedHashMap<>();
    items.forEach(i -> byName.put(i.name(), i));
    Allocation a = SpeedupAllocation.allocate(curves, latency.curves(), minSpeedup, settings.maxSparsity());
    double removed = removed(a.sparsities(), byName, cost, unit);
    LatencyConstrainedAllocation.Result r = new LatencyConstrainedAllocation.Result(
        new TargetCalibration.Result(a, Double.NaN, removed), Double.NaN,
        LatencyConstrainedAllocation.predictedSpeedup(a.sparsities(), latency.curves()), Double.NaN);
    return new LatencyPlan(new Plan(a, Double.NaN, removed, kept(a.sparsities(), items)), r, null, minSpeedup, 1);
  }

  private static Map<Integer, Long> kept(Map<String, Double> sparsities, List<SweepItem> items) {
    Map<Integer, Long> kept = new LinkedHashMap<>();
    for (SweepItem item : items) {
      double s = sparsities.getOrDefault(item.name(), 0.0);
      kept.put(item.group(), item.channels() - Math.round(s * item.channels()));
    }
    return kept;
  }

  private static double removed(Map<String, Double> sparsities, Map<String, SweepItem> items, ChannelCost cost,
      CostUnit unit) {
    Map<Integer, Long> kept = kept(sparsities, List.copyOf(items.values()));
    if (unit == CostUnit.PARAMETERS) {
      return 1.0 - (double) cost.parameters(kept) / cost.dense().parameters();
    }
    return 1.0 - (double) cost.macs(kept) / cost.dense().macs();
  }

  /**
   * The allocation table of a structured run: per swept group {@code tensor} (the group's name),
   * {@code parameters} (of its member tensors), {@code sparsity} (pruned channels / channels),
   * {@code pruned} (parameters the model loses by this group's cut alone), {@code predicted_drop},
   * {@code channels}, {@code kept_channels} and {@code cost} (what removing the whole group saves, in
   * the run's unit; empty for a group without a curve, which keeps its channels with a predicted
   * drop of 0).
   */
  public static List<ChannelAllocationRow> allocationRows(Plan plan, List<SensitivityCurve> curves,
      List<SweepItem> items, ChannelCost cost) {
    Map<String, TensorAllocation> allocated = new LinkedHashMap<>();
    plan.allocation().tensors().forEach(t -> allocated.put(t.tensor(), t));
    Map<String, Double> costs = new LinkedHashMap<>();
    curves.forEach(c -> costs.put(c.tensor(), c.cost()));
    List<ChannelAllocationRow> rows = new ArrayList<>();
    for (SweepItem item : items) {
      long kept = plan.kept().get(item.group());
      TensorAllocation t = allocated.get(item.name());
      long pruned = cost.dense().parameters() - cost.parameters(Map.of(item.group(), kept));
      rows.add(new ChannelAllocationRow(new TensorAllocation(item.name(), null, item.parameters(),
          (item.channels() - kept) / (double) item.channels(), pruned, t == null ? 0.0 : t.predictedDrop()),
          item.channels(), kept, costs.get(item.name())));
    }
    return rows;
  }
}
