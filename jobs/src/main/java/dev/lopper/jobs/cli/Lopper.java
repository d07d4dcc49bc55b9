package dev.lopper.jobs.cli;

import dev.lopper.InvalidInputException;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.ConfigKeys;
import dev.lopper.jobs.config.Key;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.RunDirectory;
import dev.lopper.jobs.pipeline.Pipeline;
import dev.lopper.jobs.report.RunSummary;
import java.io.PrintStream;
import java.time.Clock;
import java.util.Optional;

/**
 * Lopper's command line: {@code lopper <command> [options]}.
 *
 * <pre>
 * lopper prune --config conf/digits-cnn.yaml
 * lopper sensitivity --model M.onnx --data D.parquet --features features --label label --out DIR
 * lopper check --config conf/digits-cnn.yaml --set sweep.sparsities=[0.5,0.9]
 * </pre>
 *
 * <p>The configuration is loaded and checked (values, combinations, input files) before Spark
 * starts, the model and the output directory while it starts ({@link SparkStart}); bad input prints
 * one line {@code lopper: error: <message>} and exits with 2. See {@link ExitCode}.
 */
public final class Lopper {

  private Lopper() {}

  /** Runs the command line and exits with its {@link ExitCode}. */
  public static void main(String[] args) {
    ExitCode code = run(args, new Pipeline(), System.out, System.err);
    System.out.flush();
    System.exit(code.code());
  }

  /**
   * Runs the command line with {@code stages} as the Spark side, printing to {@code out} and
   * {@code err}; never throws.
   */
  public static ExitCode run(String[] args, RunStages<?> stages, PrintStream out, PrintStream err) {
    return run(args, stages, Clock.systemUTC(), out, err);
  }

  /**
   * As {@link #run(String[], RunStages, PrintStream, PrintStream)}, with {@code clock} naming run
   * directories by date ({@code output.name-by-date}).
   */
  public static ExitCode run(String[] args, RunStages<?> stages, Clock clock, PrintStream out, PrintStream err) {
    boolean verbose = false;
    boolean json = false;
    for (int i = 0; i < args.length; i++) {
      verbose |= args[i].equals("--verbose") || args[i].equals("-v");
      json |= args[i].equals("--format=json") || (args[i].equals("--format") && i + 1 < args.length
          && args[i + 1].equals("json"));
    }
    if (args.length == 0) {
      err.print(usage());
      return ExitCode.BAD_INPUT;
    }
    try {
      CommandLine line = CommandLine.parse(args);
      return switch (line.command()) {
        case HELP -> {
          out.print("config".equals(line.topic()) ? configHelp() : usage());
          yield ExitCode.SUCCESS;
        }
        case CHECK -> check(line, stages, clock, out);
        case SENSITIVITY, PRUNE -> PipelineRun.run(line.command(), line, load(line), stages, clock, out, err);
        case TOKENIZE -> TokenizeCommand.run(line, out, err);
      };
    } catch (Throwable e) {
      Optional<Throwable> unreachable = Unavailable.cause(e);
      if (unreachable.isPresent()) {
        String line = Unavailable.describe(e, unreachable.get());
        err.println("lopper: unavailable: " + line + "; nothing is wrong with the run: retry later");
        if (verbose) {
          e.printStackTrace(err);
        }
        if (json) {
          out.println(RunSummary.failure(commandWord(args), ExitCode.UNAVAILABLE.name(), ExitCode.UNAVAILABLE.code(),
              line).toJson());
        }
        return ExitCode.UNAVAILABLE;
      }
      InvalidInputException bad = badInput(e);
      if (bad != null) {
        err.println("lopper: error: " + bad.getMessage());
        if (verbose) {
          e.printStackTrace(err);
        }
        if (json) {
          out.println(RunSummary.failure(commandWord(args), ExitCode.BAD_INPUT.name(), ExitCode.BAD_INPUT.code(),
              bad.getMessage()).toJson());
        }
        return ExitCode.BAD_INPUT;
      }
      err.println("lopper: internal error: " + e);
      e.printStackTrace(err);
      if (json) {
        out.println(RunSummary.failure(commandWord(args), ExitCode.INTERNAL_ERROR.name(),
            ExitCode.INTERNAL_ERROR.code(), String.valueOf(e)).toJson());
      }
      return ExitCode.INTERNAL_ERROR;
    }
  }

  private static LopperConfig load(CommandLine line) {
    return LopperConfig.load(line.configPath(), line.overrides(), null);
  }

  private static ExitCode check(CommandLine line, RunStages<?> stages, Clock clock, PrintStream out) {
    LopperConfig config = load(line);
    stages.inspect(config, config.hadoopConfiguration());
    String output = PipelineRun.outputDir(config, clock);
    RunDirectory.checkAvailable(output, config.output().overwrite(), config.hadoopConfiguration());
    if (line.format() == OutputFormat.JSON) {
      out.println(RunSummary.checked(output, config.asMap()).toJson());
      return ExitCode.SUCCESS;
    }
    out.println("# lopper check: the configuration is valid and the inputs exist; it would run as:");
    out.print(config.toYaml());
    return ExitCode.SUCCESS;
  }

  /** The command word among {@code args}, for the JSON summary of a command line that failed. */
  private static String commandWord(String[] args) {
    for (String arg : args) {
      if (Command.of(arg).isPresent()) {
        return arg;
      }
    }
    return null;
  }

  /**
   * The bad-input exception behind {@code e}, if any: Spark wraps exceptions thrown in tasks, so
   * the cause chain is searched.
   */
  private static InvalidInputException badInput(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InvalidInputException bad) {
        return bad;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  /** The text of {@code lopper help}. */
  static String usage() {
    StringBuilder s = new StringBuilder();
    s.append("usage: lopper <command> [options]\n\n");
    s.append("Prunes a neural network on Apache Spark: measures every prunable tensor's sensitivity,\n");
    s.append("allocates sparsities, writes the pruned model and verifies it.\n\n");
    s.append("commands:\n");
    for (Command c : Command.values()) {
      s.append(String.format("  %-12s %s%n", c.word(), c.summary()));
    }
    s.append("\noptions:\n");
    s.append(String.format("  %-22s %s%n", "--config FILE", "YAML configuration file (any Hadoop path)"));
    s.append(String.format("  %-22s %s%n", "--set KEY=VALUE", "set any configuration key, e.g. --set "
        + "sweep.sparsities=[0.5,0.9]; repeatable"));
    for (Key<?> key : ConfigKeys.ALL) {
      if (key.flag() != null) {
        String flag = key.flag() + (key.type() == ConfigKeys.Type.BOOLEAN ? "" : " " + metavar(key));
        s.append(String.format("  %-22s %s%n", flag, "sets " + key.name()));
      }
    }
    s.append(String.format("  %-22s %s%n", "--quiet", "no progress lines on stderr"));
    s.append(String.format("  %-22s %s%n", "--resume", "reuse the units an interrupted run of the same configuration"));
    s.append(String.format("  %-22s %s%n", "", "and inputs committed to <output.dir>.checkpoint; refuse another's"));
    s.append(String.format("  %-22s %s%n", "--format text|json", "json: one JSON summary on stdout for scripts"));
    s.append(String.format("  %-22s %s%n", "--verbose", "stack traces for errors in the input too"));
    s.append(String.format("  %-22s %s%n", "--help", "this help"));
    s.append("\nValues apply in order: the --config file, then --set and flags as given (the last wins).\n");
    s.append("\ntokenize (text into a transformer's inputs; on this machine, without Spark or configuration):\n");
    s.append("  ").append(TokenizeCommand.usageLine()).append('\n');
    s.append(String.format("  %-22s %s%n", "--tokenizer FILE", "a Hugging Face tokenizer.json (any Hadoop path)"));
    s.append(String.format("  %-22s %s%n", "--text FILE", "Parquet file or directory holding the text"));
    s.append(String.format("  %-22s %s%n", "--column NAME", "its column of text (default: "
        + TokenizeCommand.DEFAULT_COLUMN + ")"));
    s.append(String.format("  %-22s %s%n", "--out FILE", "the Parquet file to write: id, input_ids, attention_mask,"));
    s.append(String.format("  %-22s %s%n", "", "token_type_ids (lists of int64, each row its own length)"));
    s.append(String.format("  %-22s %s%n", "--max-length N", "at most N tokens per row, special tokens included"));
    s.append(String.format("  %-22s %s%n", "", "(default: the tokenizer.json's own maximum, if any)"));
    s.append(String.format("  %-22s %s%n", "--overwrite", "replace an existing output file"));
    s.append("\nexit codes:\n");
    s.append("  0  success\n");
    s.append("  1  internal error (a stack trace follows)\n");
    s.append("  2  bad configuration, command line or input (one line says what and where)\n");
    s.append("  3  the quality gate failed: the pruned model's drop exceeds gate.max-drop\n");
    s.append("  4  unavailable: a file system or cluster master could not be reached; retry later\n");
    s.append("\nbin/lopper runs Spark in local mode on this machine; with --submit (or LOPPER_SUBMIT=1)\n");
    s.append("it hands the same arguments to $SPARK_HOME/bin/spark-submit.\n");
    return s.toString();
  }

  private static String metavar(Key<?> key) {
    return switch (key.type()) {
      case PATH -> key.name().equals("output.dir") ? "DIR" : "PATH";
      case STRING -> key.name().startsWith("data.") ? "COLUMN" : "URL";
      case NAME -> "NAME";
      case OPEN_FRACTION, FRACTION, NON_NEGATIVE_NUMBER, SPEEDUP -> "X";
      default -> "VALUE";
    };
  }

  /** The text of {@code lopper help config}. */
  static String configHelp() {
    return "Configuration keys (YAML, nested by the dots; any key can be set with --set KEY=VALUE):\n\n"
        + ConfigKeys.reference();
  }
}
