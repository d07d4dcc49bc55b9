package dev.lopper.jobs;

import dev.lopper.jobs.output.GateVerdict;
import java.util.List;

/**
 * What a run's stages report back.
 *
 * @param gate the quality gate's verdict, or null when the command has no gate (sensitivity)
 * @param results the figures for the manifest's {@code results}: records that Jackson writes, one
 *     after the other, into that one JSON object (their components in snake_case, in order; {@link
 *     dev.lopper.jobs.output.RunResults})
 */
public record RunOutcome(GateVerdict gate, List<Record> results) {

  public RunOutcome {
    results = List.copyOf(results);
  }

  /** An outcome without a gate. */
  public static RunOutcome of(Record... results) {
    return new RunOutcome(null, List.of(results));
  }
}
