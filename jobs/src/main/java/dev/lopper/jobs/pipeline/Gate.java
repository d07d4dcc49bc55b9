package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.GateVerdict;

/**
 * The gate step: the verified drop of the decision metric against {@code gate.max-drop}, and when
 * the method requires one ({@code allocation.min-speedup}), the emitted model's measured speed-up
 * against it. A failed gate makes the run exit with its own code, its outputs kept.
 */
public final class Gate {

  private Gate() {}

  /** The verdict on a verified emission. */
  public static GateVerdict judge(LopperConfig config, Verify.Verified verified, Emission emission) {
    DecisionMetric metric = config.metric();
    GateVerdict gate = GateVerdict.judge(metric, verified.dense().metrics().get(metric.configName()),
        verified.pruned().metrics().get(metric.configName()), config.gate().maxDrop());
    return emission.minSpeedup() == null ? gate : gate.withSpeedup(emission.minSpeedup(), emission.measuredSpeedup());
  }
}
