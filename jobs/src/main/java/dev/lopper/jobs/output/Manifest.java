package dev.lopper.jobs.output;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * A run's record, written as {@code manifest.json} into the run directory, last: what was run, on
 * what, with which versions, how long each stage took and how it ended.
 *
 * <p>JSON field names are snake_case ({@code run_id}, {@code spark_application_id}, ...); the
 * configuration keeps its own kebab-case keys and can be fed back to Lopper as a configuration file
 * to repeat the run.
 *
 * @param format the manifest format's version, {@value #FORMAT}
 * @param runId the run's id, also the suffix of its temporary directory
 * @param command the command: {@code sensitivity} or {@code prune}
 * @param commandLine the arguments Lopper was started with
 * @param status how the run ended
 * @param started start time, ISO-8601 UTC
 * @param finished end time, ISO-8601 UTC
 * @param output the run directory
 * @param configuration the configuration as run ({@code LopperConfig.asMap()})
 * @param inputs model, weights and data with checksums
 * @param versions Lopper and library versions
 * @param sparkApplicationId the Spark application's id, or null
 * @param timingsMillis milliseconds per stage, in order
 * @param gate the quality gate's verdict, or null when the command has none
 * @param results what the stages report (counts, overall sparsity, file names), as JSON-able values
 * @param previousRun for a run named by date ({@code output.name-by-date}): the directory of the
 *     previous complete run of the same command under the same {@code output.dir}, or null
 * @param comparison the change from {@code previousRun} ({@code dev.lopper.jobs.report.RunComparison}),
 *     empty when there is none
 * @param outputs every file in the run directory apart from the manifest, filled in by {@link
 *     RunDirectory#commit}
 */
public record Manifest(int format, String runId, String command, List<String> commandLine, RunStatus status,
    String started, String finished, String output, Map<String, Object> configuration, List<InputFile> inputs,
    Map<String, String> versions, String sparkApplicationId, Map<String, Long> timingsMillis, GateVerdict gate,
    Map<String, Object> results, String previousRun, Map<String, Object> comparison, List<OutputFile> outputs) {

  /** The current format version. */
  public static final int FORMAT = 1;

  /** The manifest's JSON mapping, also {@link RunResults}'s: snake_case names, indented. */
  static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};

  public Manifest {
    commandLine = List.copyOf(commandLine);
    configuration = normalize(configuration);
    inputs = List.copyOf(inputs);
    versions = Collections.unmodifiableMap(new LinkedHashMap<>(versions));
    timingsMillis = Collections.unmodifiableMap(new LinkedHashMap<>(timingsMillis));
    results = normalize(results);
    comparison = normalize(comparison);
    outputs = List.copyOf(outputs);
  }

  /** This manifest with its list of output files replaced. */
  public Manifest withOutputs(List<OutputFile> files) {
    return new Manifest(format, runId, command, commandLine, status, started, finished, output, configuration,
        inputs, versions, sparkApplicationId, timingsMillis, gate, results, previousRun, comparison, files);
  }

  /** The manifest as indented JSON. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the manifest as JSON", e);
    }
  }

  /** Parses a manifest written by {@link #toJson()}. */
  public static Manifest fromJson(String json) {
    try {
      return JSON.readValue(json, Manifest.class);
    } catch (JsonProcessingException e) {
      throw new InvalidInputException("not a Lopper manifest: " + e.getOriginalMessage(), e);
    }
  }

  /** Reads the manifest at {@code path}. */
  public static Manifest read(String path, Configuration conf) {
    try {
      return fromJson(new String(HadoopFiles.readAll(path, conf), StandardCharsets.UTF_8));
    } catch (InvalidInputException e) {
      throw new InvalidInputException(path + ": " + e.getMessage(), e);
    }
  }

  /** Writes this manifest to {@code path}, atomically. */
  public void write(String path, Configuration conf) {
    byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
    HadoopFiles.writeAtomically(path, conf, out -> out.write(bytes));
  }

  /** Maps as JSON would give them back (Integer for small integers, lists, nested maps), so a round trip is equal. */
  private static Map<String, Object> normalize(Map<String, Object> map) {
    if (map == null) {
      return Map.of();
    }
    try {
      return Collections.unmodifiableMap(JSON.readValue(JSON.writeValueAsBytes(map), MAP));
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("value not representable in JSON: " + e.getMessage(), e);
    }
  }

  /** Starts a manifest for a run; the start time is now. */
  public static Builder builder(String runId, String command) {
    return new Builder(runId, command);
  }

  /** Collects a manifest's fields while a run proceeds. */
  public static final class Builder {
    private final String runId;
    private final String command;
    private final String started = Instant.now().toString();
    private List<String> commandLine = List.of();
    private String output;
    private Map<String, Object> configuration = Map.of();
    private final List<InputFile> inputs = new ArrayList<>();
    private Map<String, String> versions = Map.of();
    private String sparkApplicationId;
    private StageTimings timings = new StageTimings();
    private GateVerdict gate;
    private Map<String, Object> results = Map.of();
    private String previousRun;
    private Map<String, Object> comparison = Map.of();

    private Builder(String runId, String command) {
      this.runId = runId;
      this.command = command;
    }

    public Builder commandLine(List<String> args) {
      this.commandLine = List.copyOf(args);
      return this;
    }

    public Builder output(String dir) {
      this.output = dir;
      return this;
    }

    public Builder configuration(Map<String, Object> map) {
      this.configuration = map;
      return this;
    }

    public Builder input(InputFile file) {
      this.inputs.add(file);
      return this;
    }

    public Builder versions(Map<String, String> map) {
      this.versions = map;
      return this;
    }

    public Builder sparkApplicationId(String id) {
      this.sparkApplicationId = id;
      return this;
    }

    public Builder timings(StageTimings stageTimings) {
      this.timings = stageTimings;
      return this;
    }

    public Builder gate(GateVerdict verdict) {
      this.gate = verdict;
      return this;
    }

    public Builder results(Map<String, Object> map) {
      this.results = map;
      return this;
    }

    /** The previous run this one is compared with, and the comparison. */
    public Builder previousRun(String dir, Map<String, Object> change) {
      this.previousRun = dir;
      this.comparison = change;
      return this;
    }

    /** The manifest, finished now; its status is {@link RunStatus#FAILED_GATE} when the gate failed. */
    public Manifest build() {
      RunStatus status = gate != null && !gate.passed() ? RunStatus.FAILED_GATE : RunStatus.SUCCEEDED;
      return new Manifest(FORMAT, runId, command, commandLine, status, started, Instant.now().toString(), output,
          configuration, inputs, versions, sparkApplicationId, timings.asMap(), gate, results, previousRun, comparison,
          List.of());
    }
  }
}
