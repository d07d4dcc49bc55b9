package dev.lopper.jobs.cli;

import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.DataChecksums;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.DatedRuns;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.OutputLock;
import dev.lopper.jobs.output.RunDirectory;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.output.RunStatus;
import dev.lopper.jobs.output.StageTimings;
import dev.lopper.jobs.output.Versions;
import dev.lopper.jobs.report.ConsoleProgress;
import dev.lopper.jobs.report.RunReport;
import dev.lopper.jobs.report.RunSummary;
import java.io.PrintStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * Runs one command that needs Spark ({@code sensitivity} or {@code prune}) around the stages: run
 * directory, input checksums, Spark session, progress on the console, report, manifest, commit,
 * exit code.
 */
final class PipelineRun {

  private PipelineRun() {}

  /**
   * Runs {@code command}. Order: deeper input checks, the run directory (refusing an existing one;
   * named by date and compared with the previous dated run when configured), the model's checksums
   * and the data's listing, while Spark starts alongside ({@link SparkStart}); then, with progress on
   * stderr, the data's checksums in Spark tasks ({@link DataChecksums}) and the stages, which commit
   * their finished units to the run's {@link Checkpoint} (and reuse an interrupted run's, see {@link
   * #checkpointMode}); the report, the manifest, the commit, and the checkpoint deleted. Bad input and
   * internal errors propagate as exceptions after the temporary directory is deleted (the checkpoint
   * is kept, so the run can be resumed) and a session started for the run is stopped.
   */
  static <I> ExitCode run(Command command, CommandLine line, LopperConfig config, RunStages<I> stages, Clock clock,
      PrintStream out, PrintStream err) {
    try (SparkStart starting = SparkStart.begin(command, config)) {
      return run(starting, command, line, config, stages, clock, out, err);
    }
  }

  private static <I> ExitCode run(SparkStart starting, Command command, CommandLine line, LopperConfig config,
      RunStages<I> stages, Clock clock, PrintStream out, PrintStream err) {
    long start = System.nanoTime();
    Configuration hadoop = config.hadoopConfiguration();
    I inspected = stages.inspect(config, hadoop);
    String runId = RunDirectory.newRunId();
    try (OutputLock lock = OutputLock.acquire(config.output().dir(), runId, hadoop, err::println)) {
      return run(starting, command, line, config, inspected, runId, clock, out, err, stages, start, hadoop);
    }
  }

  /** The run itself, once its output is locked for it. */
  private static <I> ExitCode run(SparkStart starting, Command command, CommandLine line, LopperConfig config,
      I inspected, String runId, Clock clock, PrintStream out, PrintStream err, RunStages<I> stages, long start,
      Configuration hadoop) {
    String output = outputDir(config, clock);
    String previousRun = config.output().nameByDate()
        ? DatedRuns.previous(config.output().dir(), output, command.word(), hadoop).orElse(null) : null;
    RunDirectory.checkAvailable(output, config.output().overwrite(), hadoop);
    for (String leftover : RunDirectory.leftovers(output, hadoop)) {
      err.println("lopper: warning: " + leftover + " is left from an interrupted run; delete it when done");
    }
    StageTimings timings = new StageTimings();
    Checkpoint checkpoint = Checkpoint.of(config.output().dir(), checkpointMode(line, config), hadoop, err::println);
    RunDirectory dir = RunDirectory.create(output, config.output().overwrite(), runId, hadoop);
    Manifest.Builder manifest = Manifest.builder(dir.runId(), command.word())
        .commandLine(line.args())
        .output(dir.path())
        .configuration(config.asMap())
        .timings(timings);
    SparkSession spark = null;
    ConsoleProgress progress = null;
    boolean committing = false;
    PrintStream human = line.format() == OutputFormat.JSON ? err : out;
    try {
      List<InputFile> inputs = new ArrayList<>(timings.time("checksums", () -> modelInputs(config, hadoop)));
      List<InputFile.Listing> data = timings.time("checksums", () -> listData(config, hadoop));
      spark = starting.take(timings);
      manifest.sparkApplicationId(spark.sparkContext().applicationId()).versions(Versions.collect(spark.version()));
      progress = line.quiet() ? null : ConsoleProgress.attach(spark.sparkContext(), err, timings::current);
      SparkSession started = spark;
      timings.time("checksums", () -> data.forEach(d -> inputs.add(DataChecksums.of(started, d, hadoop))));
      inputs.forEach(manifest::input);
      RunContext context = new RunContext(dir, timings, inputs, checkpoint);
      SparkSession session = spark;
      RunOutcome outcome = command == Command.PRUNE ? stages.prune(session, config, inspected, context)
          : stages.sensitivity(session, config, inspected, context);
      if (progress != null) {
        progress.detach();
      }
      manifest.gate(outcome.gate()).results(RunResults.toMap(outcome.results()));
      timings.time("report", () -> RunReport.write(dir, manifest, previousRun, err));
      committing = true;
      Manifest written = dir.commit(manifest.build());
      checkpoint.delete();
      double seconds = (System.nanoTime() - start) / 1e9;
      if (written.gate() != null) {
        (written.gate().passed() ? human : err).println("lopper: quality gate " + (written.gate().passed()
            ? "passed" : "FAILED") + ": " + written.gate().describe());
      }
      if (written.status() == RunStatus.FAILED_GATE) {
        err.printf("lopper: %s finished in %.1f s but failed the quality gate; outputs kept in %s, marked %s in "
            + "its %s%n", command.word(), seconds, dir.path(), RunStatus.FAILED_GATE, RunDirectory.MANIFEST);
      } else {
        human.printf("lopper: %s finished in %.1f s: %s%n", command.word(), seconds, dir.path());
      }
      ExitCode code = written.status() == RunStatus.FAILED_GATE ? ExitCode.GATE_FAILED : ExitCode.SUCCESS;
      if (line.format() == OutputFormat.JSON) {
        out.println(RunSummary.of(written, code.code(), seconds).toJson());
      }
      return code;
    } catch (Throwable e) { // also Scala's checked exceptions (SparkException), which Java cannot name here
      if (!committing) {
        try {
          dir.abort();
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    } finally {
      if (progress != null) {
        progress.detach();
      }
      if (spark != null) {
        spark.stop();
      }
    }
  }

  /**
   * What the run does with a checkpoint of an interrupted run: reuse it or refuse with {@code --resume};
   * for runs named by date (scheduled) reuse a matching one and discard another; else start afresh.
   */
  static Checkpoint.Mode checkpointMode(CommandLine line, LopperConfig config) {
    if (line.resume()) {
      return Checkpoint.Mode.RESUME;
    }
    return config.output().nameByDate() ? Checkpoint.Mode.REUSE_IF_MATCHING : Checkpoint.Mode.FRESH;
  }

  /**
   * The run directory: {@code output.dir}, or with {@code output.name-by-date} the dated directory
   * below it for a run starting now ({@link DatedRuns#name}).
   */
  static String outputDir(LopperConfig config, Clock clock) {
    return config.output().nameByDate()
        ? DatedRuns.name(config.output().dir(), config.output().overwrite(), clock.instant(),
            config.hadoopConfiguration())
        : config.output().dir();
  }

  /** The model and its weights with their checksums, read on the driver while Spark starts. */
  private static List<InputFile> modelInputs(LopperConfig config, Configuration hadoop) {
    List<InputFile> inputs = new ArrayList<>();
    inputs.add(InputFile.of("model", config.model().onnx(), hadoop));
    if (config.model().weights() != null) {
      inputs.add(InputFile.of("weights", config.model().weights(), hadoop));
    }
    return inputs;
  }

  /**
   * The data sets' files, listed before Spark starts so that a missing one fails before any Spark job;
   * their checksums are computed in Spark tasks ({@link DataChecksums}), so the driver reads no data file.
   */
  private static List<InputFile.Listing> listData(LopperConfig config, Configuration hadoop) {
    List<InputFile.Listing> data = new ArrayList<>();
    data.add(InputFile.list("data", config.data().path(), hadoop));
    if (config.calibration().data() != null) {
      data.add(InputFile.list("calibration", config.calibration().data(), hadoop));
    }
    return data;
  }
}
