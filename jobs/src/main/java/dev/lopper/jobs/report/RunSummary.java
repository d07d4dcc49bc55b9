package dev.lopper.jobs.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunDirectory;
import java.util.Map;
import org.apache.hadoop.fs.Path;

/**
 * What {@code --format json} prints on stdout when a command ends: one JSON object for scripts,
 * with snake_case keys. Every field is present; those that do not apply are null.
 *
 * <pre>
 * {"command": "prune", "status": "SUCCEEDED", "exit_code": 0, "output": "runs/nightly/2026-11-21", ...}
 * </pre>
 *
 * @param command the command ({@code prune}, {@code sensitivity}, {@code check}), or null when the
 *     command line could not be read
 * @param status {@code SUCCEEDED} or {@code FAILED_GATE} for a committed run (as in the manifest),
 *     {@code BAD_INPUT} or {@code INTERNAL_ERROR} for a run that stopped
 * @param exitCode the process exit code
 * @param output the run directory
 * @param runId the run's id
 * @param manifest the manifest's path
 * @param report the report's path
 * @param seconds the command's wall-clock time
 * @param gate the quality gate's verdict
 * @param results the stages' results, as in the manifest ({@code check}: the configuration as it would run)
 * @param previousRun the previous run compared with (runs named by date)
 * @param comparison the change from it, as in the manifest
 * @param error the error message for {@code BAD_INPUT} and {@code INTERNAL_ERROR}
 */
public record RunSummary(String command, String status, int exitCode, String output, String runId, String manifest,
    String report, Double seconds, GateVerdict gate, Map<String, Object> results, String previousRun,
    Map<String, Object> comparison, String error) {

  private static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(SerializationFeature.INDENT_OUTPUT);

  /** The summary of a committed run. */
  public static RunSummary of(Manifest written, int exitCode, double seconds) {
    String dir = written.output();
    return new RunSummary(written.command(), written.status().name(), exitCode, dir, written.runId(),
        new Path(dir, RunDirectory.MANIFEST).toString(), new Path(dir, HtmlReport.FILE).toString(), seconds,
        written.gate(), written.results(), written.previousRun(), written.comparison(), null);
  }

  /** The summary of a command that stopped with an error (nothing committed). */
  public static RunSummary failure(String command, String status, int exitCode, String message) {
    return new RunSummary(command, status, exitCode, null, null, null, null, null, null, null, null, null, message);
  }

  /** The summary of a successful {@code check}: the configuration as it would run. */
  public static RunSummary checked(String output, Map<String, Object> configuration) {
    return new RunSummary("check", "SUCCEEDED", 0, output, null, null, null, null, null,
        Map.of("configuration", configuration), null, null, null);
  }

  /** The summary as indented JSON. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the run summary as JSON", e);
    }
  }
}
