package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.sweep.SweepResult;
import java.util.ArrayList;
import java.util.List;

/**
 * The last step: what a run reports in its manifest's {@code results}, as the typed sections of
 * {@link RunResults}, with the gate's verdict.
 */
public final class RecordResults {

  private RecordResults() {}

  /** A sensitivity run's outcome: the data, the sweep's size and the dense baseline. */
  public static RunOutcome sensitivity(LopperConfig config, InspectedModel model, ValidationData data,
      SweepResult sweep) {
    List<Record> results = new ArrayList<>();
    results.add(data(model, data));
    results.add(new RunResults.Sweep((long) model.items().size() * config.sweep().grid().length,
        RunResults.Metrics.of(sweep.baseline())));
    units(sweep, results);
    return new RunOutcome(null, results);
  }

  /** A prune's outcome: the data, the method's figures, the verification and the gate. */
  public static RunOutcome prune(LopperConfig config, InspectedModel model, ValidationData data, SweepResult sweep,
      Emission emission, Verify.Verified verified, GateVerdict gate) {
    List<Record> results = new ArrayList<>();
    results.add(data(model, data));
    units(sweep, results);
    results.addAll(emission.results());
    results.add(new RunResults.Verified(config.metric().configName(), verified.predictedDrop(),
        verified.measuredDrop(), RunResults.Metrics.of(verified.dense()), RunResults.Metrics.of(verified.pruned())));
    return new RunOutcome(gate, results);
  }

  /** The sweep's units, when there was a sweep that recorded them. */
  private static void units(SweepResult sweep, List<Record> results) {
    if (sweep != null && sweep.units() != null) {
      results.add(new RunResults.SweepUnits(sweep.units().total(), sweep.units().reused()));
    }
  }

  private static RunResults.Data data(InspectedModel model, ValidationData data) {
    return new RunResults.Data(data.rows(), data.partitionCount(), model.tensors().size(),
        model.structured() ? model.items().size() : null);
  }
}
