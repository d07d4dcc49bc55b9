package dev.lopper.jobs;

import dev.lopper.jobs.output.GateVerdict;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a run's stages report back.
 *
 * @param gate the quality gate's verdict, or null when the command has no gate (sensitivity)
 * @param results figures for the manifest's {@code results} (JSON-able: numbers, strings, lists, maps)
 */
public record RunOutcome(GateVerdict gate, Map<String, Object> results) {

  public RunOutcome {
    results = Collections.unmodifiableMap(new LinkedHashMap<>(results));
  }

  /** An outcome without a gate. */
  public static RunOutcome of(Map<String, Object> results) {
    return new RunOutcome(null, results);
  }
}
