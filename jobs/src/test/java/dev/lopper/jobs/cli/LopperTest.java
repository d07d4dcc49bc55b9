package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.OutputFile;
import dev.lopper.jobs.output.OutputLock;
import dev.lopper.jobs.output.RunStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line end to end, with stand-in stages (and a real local Spark session where a command needs one). */
class LopperTest {

  @TempDir
  Path tmp;

  private String model;
  private String data;
  private String out;
  private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

  @BeforeEach
  void inputs() throws IOException {
    model = Files.writeString(tmp.resolve("m.onnx"), "abc").toString();
    Path dataDir = Files.createDirectory(tmp.resolve("d.parquet"));
    Files.writeString(dataDir.resolve("part-0.parquet"), "rows");
    data = dataDir.toString();
    out = tmp.resolve("runs/x").toString();
  }

  /** What the stand-in stages report: the manifest's results. */
  record Reported(int tensors, String modelSha256) {}

  /** Stand-in stages that record what they were given. */
  private static class Stages implements RunStages<Void> {
    final List<String> calls = new ArrayList<>();
    Map<String, String> sparkSettings;
    RuntimeException inspectError;
    RuntimeException stageError;
    GateVerdict verdict;

    @Override
    public Void inspect(LopperConfig config, Configuration hadoop) {
      calls.add("inspect");
      if (inspectError != null) {
        throw inspectError;
      }
      return null;
    }

    @Override
    public RunOutcome sensitivity(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      calls.add("sensitivity");
      return stage(spark, run);
    }

    @Override
    public RunOutcome prune(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      calls.add("prune");
      RunOutcome outcome = stage(spark, run);
      return new RunOutcome(verdict, outcome.results());
    }

    private RunOutcome stage(SparkSession spark, RunContext run) {
      sparkSettings = Map.of(
          "app", spark.sparkContext().appName(),
          "master", spark.sparkContext().master(),
          "ui", spark.conf().get("spark.ui.enabled"),
          "omp", spark.conf().get("spark.executorEnv.OMP_NUM_THREADS"),
          "memory", spark.conf().get("spark.executor.memory", "unset"));
      run.timings().time("sweep", () -> HadoopFiles.writeAtomically(run.directory().file("tables/sensitivity.csv"),
          run.directory().conf(), o -> o.write("tensor,sparsity\n".getBytes(StandardCharsets.UTF_8))));
      if (stageError != null) {
        throw stageError;
      }
      return RunOutcome.of(new Reported(2, run.input("model").orElseThrow().sha256()));
    }
  }

  private ExitCode lopper(Stages stages, String... args) {
    return Lopper.run(args, stages, new PrintStream(stdout, true, StandardCharsets.UTF_8),
        new PrintStream(stderr, true, StandardCharsets.UTF_8));
  }

  private String out() {
    return stdout.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return stderr.toString(StandardCharsets.UTF_8);
  }

  /** Stderr without the progress lines of Spark jobs (the data's checksums run before the stages). */
  private String errWithoutProgress() {
    return err().replaceAll("(?m)^lopper: [a-z-]+ \\d+/\\d+ tasks \\(.*\n", "");
  }

  private String[] run(String command, String... more) {
    List<String> args = new ArrayList<>(List.of(command, "--model", model, "--data", data, "--out", out,
        "--master", "local[1]"));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  private List<String> runsEntries() throws IOException {
    Path runs = tmp.resolve("runs");
    if (!Files.exists(runs)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(runs)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
  }

  @Test
  void helpPrintsUsageAndTheConfigurationReference() {
    assertEquals(ExitCode.SUCCESS, lopper(new Stages(), "help"));
    assertTrue(out().startsWith("usage: lopper <command> [options]"), out());
    assertTrue(out().contains("  3  the quality gate failed"), out());
    stdout.reset();
    assertEquals(ExitCode.SUCCESS, lopper(new Stages(), "help", "config"));
    assertTrue(out().contains("data.batch-size (a positive integer, default 256)"), out());
    assertEquals("", err());
  }

  @Test
  void noArgumentsPrintUsageAsAnError() {
    assertEquals(ExitCode.BAD_INPUT, lopper(new Stages()));
    assertTrue(err().startsWith("usage: lopper"));
  }

  @Test
  void badInputIsOneLineOnStderrAndExitTwo() {
    Stages stages = new Stages();
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity", "--set", "data.batch-size=abc")));
    assertEquals("lopper: error: --set data.batch-size: expected a positive integer, found 'abc'\n", err());
    assertEquals("", out());
    assertEquals(List.of(), stages.calls, "nothing ran");

    stderr.reset();
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, "prune", "--modle", model));
    assertEquals("lopper: error: unknown option --modle (did you mean --model?); see 'lopper help'\n", err());
  }

  @Test
  void verboseAddsTheStackTraceToBadInput() {
    assertEquals(ExitCode.BAD_INPUT, lopper(new Stages(), run("check", "--verbose", "--metric", "accuracy5")));
    assertTrue(err().startsWith("lopper: error: --metric (metric): unknown name 'accuracy5'"), err());
    assertTrue(err().contains("at dev.lopper.jobs.config"), err());
  }

  @Test
  void checkValidatesAndPrintsTheConfigurationWithoutRunning() throws IOException {
    Stages stages = new Stages();
    assertEquals(ExitCode.SUCCESS, lopper(stages, run("check", "--target", "0.7")));
    assertEquals(List.of("inspect"), stages.calls);
    assertTrue(out().contains("  target: 0.7\n"), out());
    assertEquals(List.of(), runsEntries(), "check writes nothing");
  }

  @Test
  void checkAndRunsRefuseAnExistingOutputDirectory() throws IOException {
    Files.createDirectories(tmp.resolve("runs/x"));
    Stages stages = new Stages();
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("check")));
    assertEquals("lopper: error: output directory " + out + " exists; pass --overwrite or choose another\n", err());
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity")));
    assertFalse(stages.calls.contains("sensitivity"));
    assertEquals(List.of("x"), runsEntries());
  }

  @Test
  void inspectionErrorsStopTheRunBeforeAnythingIsWritten() throws IOException {
    Stages stages = new Stages();
    stages.inspectError = new InvalidInputException("data.features: column 'features' not found in " + data);
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("prune")));
    assertEquals("lopper: error: data.features: column 'features' not found in " + data + "\n", err());
    assertEquals(List.of("inspect"), stages.calls);
    assertEquals(List.of(), runsEntries());
    assertTrue(SparkSession.getDefaultSession().isEmpty(),
        "the session started alongside the checks is stopped with the failed run");
  }

  @Test
  void sparkThatCannotStartFailsTheRunAfterItsChecksAndWritesNothing() throws IOException {
    Stages stages = new Stages();
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity", "--master", "bogus://nowhere")));
    assertEquals("lopper: error: Spark did not start with master bogus://nowhere: Could not parse Master URL: "
        + "'bogus://nowhere' (see spark.master and spark.conf)\n", err());
    assertEquals(List.of("inspect"), stages.calls, "the checks ran while Spark tried to start");
    assertEquals(List.of(), runsEntries(), "the run directory is removed");
    assertTrue(SparkSession.getDefaultSession().isEmpty());

    stderr.reset();
    assertEquals(ExitCode.BAD_INPUT, lopper(new Stages(), run("sensitivity", "--set",
        "spark.conf.spark.executor.cores=abc")));
    assertEquals("lopper: error: Spark did not start with master local[1]: spark.executor.cores should be int, "
        + "but was abc (see spark.master and spark.conf)\n", err());
    assertEquals(List.of(), runsEntries());
  }

  @Test
  void sensitivityCommitsTheRunWithItsManifestWrittenLast() throws IOException {
    Stages stages = new Stages();
    ExitCode code = lopper(stages, run("sensitivity", "--set", "spark.conf.spark.executor.memory=2g"));
    assertEquals(ExitCode.SUCCESS, code, err());
    assertEquals(List.of("inspect", "sensitivity"), stages.calls);
    assertEquals(Map.of("app", "lopper sensitivity", "master", "local[1]", "ui", "false", "omp", "1",
        "memory", "2g"), stages.sparkSettings);
    assertEquals(List.of("x"), runsEntries(), "committed, no temporary sibling left");
    assertTrue(out().startsWith("lopper: sensitivity finished in "), out());

    Manifest m = Manifest.read(out + "/manifest.json", new Configuration());
    assertEquals(RunStatus.SUCCEEDED, m.status());
    assertEquals("sensitivity", m.command());
    assertEquals(List.of(run("sensitivity", "--set", "spark.conf.spark.executor.memory=2g")), List.of(
        m.commandLine().toArray(String[]::new)));
    assertTrue(m.sparkApplicationId().startsWith("local-"), m.sparkApplicationId());
    assertEquals("4.0.4", m.versions().get("spark"));
    // sha256("abc") and the data directory's digest over its one file.
    assertEquals(new InputFile("model", model, 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), m.inputs().get(0));
    assertEquals("data", m.inputs().get(1).role());
    assertEquals(List.of("checksums", "spark-start", "sweep", "report"), List.copyOf(m.timingsMillis().keySet()));
    assertEquals(Map.of("tensors", 2, "model_sha256",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), m.results());
    assertEquals(List.of("report.html", "tables/sensitivity.csv"), m.outputs().stream().map(OutputFile::path).toList());
    assertEquals(new OutputFile("tables/sensitivity.csv", 16), m.outputs().get(1));
    assertEquals("2g", ((Map<?, ?>) ((Map<?, ?>) m.configuration().get("spark")).get("conf"))
        .get("spark.executor.memory"));
    assertEquals(null, m.gate());
  }

  @Test
  void failedGateExitsThreeAndKeepsTheOutputsMarkedFailed() {
    Stages stages = new Stages();
    stages.verdict = GateVerdict.judge(DecisionMetric.ACCURACY, 0.98, 0.94, 0.02);
    assertEquals(ExitCode.GATE_FAILED, lopper(stages, run("prune")));
    Manifest m = Manifest.read(out + "/manifest.json", new Configuration());
    assertEquals(RunStatus.FAILED_GATE, m.status());
    assertEquals(0.04, m.gate().drop(), 1e-12);
    assertTrue(err().contains("lopper: quality gate FAILED: accuracy 0.98 -> 0.94, drop 0.04 > max-drop 0.02\n"),
        err());
    assertTrue(err().contains("marked FAILED_GATE"), err());
  }

  @Test
  void passedGateExitsZero() {
    Stages stages = new Stages();
    stages.verdict = GateVerdict.judge(DecisionMetric.ACCURACY, 0.98, 0.97, 0.02);
    assertEquals(ExitCode.SUCCESS, lopper(stages, run("prune")), err());
    assertTrue(out().startsWith("lopper: quality gate passed: accuracy 0.98 -> 0.97, drop 0.01 <= max-drop 0.02\n"),
        out());
  }

  @Test
  void internalErrorsAbortTheRunAndExitOneWithAStackTrace() throws IOException {
    Stages stages = new Stages();
    stages.stageError = new IllegalStateException("merge lost a tally");
    assertEquals(ExitCode.INTERNAL_ERROR, lopper(stages, run("sensitivity")));
    assertTrue(errWithoutProgress().startsWith(
        "lopper: internal error: java.lang.IllegalStateException: merge lost a tally"), err());
    assertTrue(err().contains("\tat "), "stack trace");
    assertEquals(List.of(), runsEntries(), "no output directory, no temporary sibling");
  }

  @Test
  void badInputWrappedBySparkIsStillExitTwo() {
    Stages stages = new Stages();
    stages.stageError = new RuntimeException("Job aborted due to stage failure",
        new InvalidInputException("data.label: label 12 in row 7 is outside [0, 10)"));
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity")));
    assertEquals("lopper: error: data.label: label 12 in row 7 is outside [0, 10)\n", errWithoutProgress());
  }

  @Test
  void overwriteReplacesAPreviousRun() throws IOException {
    Stages stages = new Stages();
    assertEquals(ExitCode.SUCCESS, lopper(stages, run("sensitivity")), err());
    String first = Manifest.read(out + "/manifest.json", new Configuration()).runId();
    assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity")));
    assertEquals(ExitCode.SUCCESS, lopper(stages, run("sensitivity", "--overwrite")), err());
    String second = Manifest.read(out + "/manifest.json", new Configuration()).runId();
    assertNotNull(second);
    assertFalse(first.equals(second));
    assertEquals(List.of("x"), runsEntries());
  }

  @Test
  void aRunOnAnOutputAnotherRunHoldsIsRefusedNamingItAndWritesNothing() throws IOException {
    try (OutputLock other = OutputLock.acquire(out, "20261207T000000Z-0123abcd", new Configuration(), w -> { })) {
      Stages stages = new Stages();
      assertEquals(ExitCode.BAD_INPUT, lopper(stages, run("sensitivity")));
      assertTrue(err().contains("is being written by run 20261207T000000Z-0123abcd"), err());
      assertEquals(List.of("inspect"), stages.calls, "refused before any stage ran");
      assertEquals(List.of(), runsEntries(), "nothing written beside the lock");
    }
    Stages stages = new Stages();
    assertEquals(ExitCode.SUCCESS, lopper(stages, run("sensitivity")));
    assertFalse(Files.exists(Path.of(OutputLock.lockPath(out))), "the run released its lock");
  }
}
