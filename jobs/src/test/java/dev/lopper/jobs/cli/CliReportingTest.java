package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.Manifest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line's reporting options with stand-in stages: {@code --format json}, {@code --quiet},
 * {@code report.html} in every run, and run directories named by date ({@code output.name-by-date}).
 */
class CliReportingTest {

  @TempDir
  Path tmp;

  private String model;
  private String data;
  private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

  /** Stages that write nothing but report a passing or failing gate. */
  private static final class Stages implements RunStages<Void> {
    GateVerdict verdict = GateVerdict.judge(DecisionMetric.ACCURACY, 0.98, 0.97, 0.02);

    /** The results these stages report. */
    record Counts(int tensors) {}

    /** The results these stages report for a prune. */
    record Pruned(int tensors, double sparsity) {}

    @Override
    public Void inspect(LopperConfig config, Configuration hadoop) {
      return null;
    }

    @Override
    public RunOutcome sensitivity(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      return RunOutcome.of(new Counts(2));
    }

    @Override
    public RunOutcome prune(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      return new RunOutcome(verdict, List.of(new Pruned(2, 0.7)));
    }
  }

  @BeforeEach
  void inputs() throws IOException {
    model = Files.writeString(tmp.resolve("m.onnx"), "abc").toString();
    data = Files.writeString(tmp.resolve("d.parquet"), "rows").toString();
  }

  private ExitCode lopper(Clock clock, String... args) {
    stdout.reset();
    stderr.reset();
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--model", model, "--data", data, "--master", "local[1]"));
    return Lopper.run(all.toArray(String[]::new), new Stages(), clock,
        new PrintStream(stdout, true, StandardCharsets.UTF_8), new PrintStream(stderr, true, StandardCharsets.UTF_8));
  }

  private String out() {
    return stdout.toString(StandardCharsets.UTF_8);
  }

  private static Clock at(String instant) {
    return Clock.fixed(Instant.parse(instant), ZoneOffset.UTC);
  }

  @Test
  void parsesQuietAndFormat() {
    CommandLine line = CommandLine.parse("prune", "--quiet", "--format", "json");
    assertTrue(line.quiet());
    assertEquals(OutputFormat.JSON, line.format());
    CommandLine plain = CommandLine.parse("prune");
    assertFalse(plain.quiet());
    assertEquals(OutputFormat.TEXT, plain.format());
    assertEquals(OutputFormat.JSON, CommandLine.parse("prune", "--format=json").format());
    InvalidInputException bad = assertThrows(InvalidInputException.class,
        () -> CommandLine.parse("prune", "--format", "yaml"));
    assertEquals("--format: unknown format 'yaml'; use text or json", bad.getMessage());
  }

  @Test
  void jsonFormatPrintsOneSummaryOnStdout() throws IOException {
    String out = tmp.resolve("runs/x").toString();
    ExitCode code = lopper(Clock.systemUTC(), "prune", "--out", out, "--format", "json", "--quiet");
    assertEquals(ExitCode.SUCCESS, code, stderr.toString(StandardCharsets.UTF_8));
    JsonNode json = new ObjectMapper().readTree(out());
    assertEquals("prune", json.get("command").asText());
    assertEquals("SUCCEEDED", json.get("status").asText());
    assertEquals(0, json.get("exit_code").asInt());
    assertEquals(out, json.get("output").asText());
    assertEquals(out + "/manifest.json", json.get("manifest").asText());
    assertEquals(out + "/report.html", json.get("report").asText());
    assertTrue(json.get("gate").get("passed").asBoolean());
    assertEquals(0.7, json.get("results").get("sparsity").asDouble());
    assertEquals(Manifest.read(out + "/manifest.json", new Configuration()).runId(), json.get("run_id").asText());
    assertTrue(Files.exists(Path.of(out, "report.html")));
    assertTrue(stderr.toString(StandardCharsets.UTF_8).contains("lopper: prune finished in "),
        "the line for people goes to stderr");
  }

  @Test
  void jsonFormatReportsBadInputAndFailedGates() throws IOException {
    ExitCode code = lopper(Clock.systemUTC(), "prune", "--format", "json", "--out", tmp.resolve("runs/y").toString(),
        "--set", "data.batch-size=abc");
    assertEquals(ExitCode.BAD_INPUT, code);
    JsonNode json = new ObjectMapper().readTree(out());
    assertEquals("BAD_INPUT", json.get("status").asText());
    assertEquals(2, json.get("exit_code").asInt());
    assertEquals("--set data.batch-size: expected a positive integer, found 'abc'", json.get("error").asText());
    assertTrue(json.get("output").isNull());
  }

  @Test
  void datedRunsCompareWithThePreviousDay() throws IOException {
    String base = tmp.resolve("nightly").toString();
    assertEquals(ExitCode.SUCCESS, lopper(at("2026-01-01T02:00:00Z"), "prune", "--out", base, "--set",
        "output.name-by-date=true"), stderr.toString(StandardCharsets.UTF_8));
    assertEquals(ExitCode.SUCCESS, lopper(at("2026-01-02T02:00:00Z"), "prune", "--out", base, "--set",
        "output.name-by-date=true", "--format", "json"), stderr.toString(StandardCharsets.UTF_8));
    JsonNode json = new ObjectMapper().readTree(out());
    assertEquals(base + "/2026-01-02", json.get("output").asText());
    assertEquals(base + "/2026-01-01", json.get("previous_run").asText());
    Manifest second = Manifest.read(base + "/2026-01-02/manifest.json", new Configuration());
    assertEquals(base + "/2026-01-01", second.previousRun());
    assertEquals(List.of(), second.comparison().get("inputs_changed"));
    assertEquals(List.of(), second.comparison().get("configuration_changed"), "output.* keys are left out");
    Manifest first = Manifest.read(base + "/2026-01-01/manifest.json", new Configuration());
    assertNull(first.previousRun());
    assertEquals(Map.of(), first.comparison());

    // A second run on the same day gets the time too, and compares with the day's first.
    assertEquals(ExitCode.SUCCESS, lopper(at("2026-01-02T14:30:00Z"), "check", "--out", base, "--set",
        "output.name-by-date=true", "--format", "json"));
    assertEquals(base + "/2026-01-02T143000Z", new ObjectMapper().readTree(out()).get("output").asText());
  }
}
