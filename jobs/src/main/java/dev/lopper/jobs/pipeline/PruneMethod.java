package dev.lopper.jobs.pipeline;

import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.sweep.SweepResult;

/**
 * How a model is pruned once its sensitivity is measured: the allocation step (what to prune,
 * from the sweep) and the emission step (masks and the pruned model written into the run
 * directory). The steps before (inspection, data, sweep) and after (verification of the written
 * model, the gate, the results) are the same for every method.
 *
 * <p>Implementations: {@link MaskPruning} (element masks at per-tensor sparsities, the dense shape
 * kept) and {@link ChannelGroupPruning} (whole channels removed, a physically smaller model). A
 * method that also changes the remaining weights (reconstruction) writes them in {@link #emit}.
 *
 * @param <P> what the allocation decides and the emission carries out
 */
public interface PruneMethod<P> {

  /**
   * The allocation step: chooses what to prune from the merged sweep (null when the run did not
   * sweep, see {@link #sweeps}); writes {@code allocation.*}
   * (and whatever else the method measures to decide, e.g. {@code latency.*}). Timed as stage
   * {@code allocation}.
   */
  P allocate(SweepResult sweep, RunContext run);

  /**
   * The emission step: writes {@code masks.safetensors}, {@code masks.*}, {@code model/pruned.onnx}
   * and {@code model/pruned.safetensors} (and the method's own tables) for {@code plan}.
   */
  Emission emit(P plan, RunContext run);

  /**
   * The method {@code config}'s criterion and policy ask for: whole channels, calibrated pruning
   * (an activation-aware criterion or policy owl) or magnitude masks.
   *
   * @param calibrate the run's calibration step, which calibrated pruning uses
   */
  static PruneMethod<?> of(LopperConfig config, InspectedModel model, Calibrate calibrate) {
    if (Criteria.byName(config.sweep().criterion()) instanceof ChannelCriterion criterion) {
      return new ChannelGroupPruning(config, model, criterion, calibrate);
    }
    return CalibratedPruning.applies(config) ? new CalibratedPruning(config, model, calibrate)
        : new MaskPruning(config, model);
  }

  /**
   * Whether command prune sweeps: when the policy needs measured curves, or {@code sweep.run:
   * always} asks for them.
   */
  static boolean sweeps(LopperConfig config) {
    String policy = config.allocation().policy();
    return config.sweep().run().equals("always") || policy.equals("target") || policy.equals("tolerance");
  }
}
