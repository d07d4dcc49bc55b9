package dev.lopper.jobs.cli;

import dev.lopper.InvalidInputException;
import dev.lopper.jobs.config.ClosestName;
import dev.lopper.jobs.config.ConfigKeys;
import dev.lopper.jobs.config.ConfigOverride;
import dev.lopper.jobs.config.Key;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed command line: {@code lopper <command> [options]}.
 *
 * <p>Options may come before or after the command, as {@code --name value} or {@code --name=value}.
 * {@code --set key=value} and the flags for common keys ({@code --model}, ...) become configuration
 * overrides, applied in the order given after the {@code --config} file.
 *
 * @param command the command; {@link Command#HELP} whenever {@code --help} is given
 * @param topic for {@code help}: the topic ({@code config}) or null
 * @param configPath the {@code --config} file, or null
 * @param overrides {@code --set} and flag values, in order
 * @param verbose true with {@code --verbose}: stack traces for bad input too
 * @param quiet true with {@code --quiet}: no progress lines on stderr
 * @param resume true with {@code --resume}: reuse the checkpoint of an interrupted run of the same
 *     configuration and inputs, refusing one of another ({@link dev.lopper.jobs.output.Checkpoint})
 * @param format what to print on stdout at the end ({@code --format text|json})
 * @param args the arguments as given, for the manifest
 * @param options the options of a command that takes no configuration ({@code tokenize}), by name
 *     with their values as typed, e.g. {@code --text -> text.parquet}; empty for other commands
 */
public record CommandLine(Command command, String topic, String configPath, List<ConfigOverride> overrides,
    boolean verbose, boolean quiet, boolean resume, OutputFormat format, List<String> args, Map<String, String> options) {

  public CommandLine {
    overrides = List.copyOf(overrides);
    args = List.copyOf(args);
    options = Map.copyOf(options);
  }

  /** Options that are not configuration flags. */
  static final List<String> OWN_OPTIONS = List.of("--config", "--set", "--verbose", "--quiet", "--resume", "--format",
      "--help");

  /**
   * Parses {@code args}.
   *
   * @throws InvalidInputException for an unknown command or option, a missing value or a stray argument
   */
  public static CommandLine parse(String... args) {
    Command command = null;
    String topic = null;
    String configPath = null;
    boolean verbose = false;
    boolean quiet = false;
    boolean resume = false;
    OutputFormat format = OutputFormat.TEXT;
    boolean help = false;
    List<ConfigOverride> overrides = new ArrayList<>();
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("-h") || arg.equals("--help")) {
        help = true;
      } else if (arg.equals("-v") || arg.equals("--verbose")) {
        verbose = true;
      } else if (arg.equals("-q") || arg.equals("--quiet")) {
        quiet = true;
      } else if (arg.equals("--resume")) {
        resume = true;
      } else if (arg.startsWith("--")) {
        int eq = arg.indexOf('=');
        String name = eq < 0 ? arg : arg.substring(0, eq);
        String inline = eq < 0 ? null : arg.substring(eq + 1);
        boolean tokenizeOption = TokenizeCommand.OPTIONS.contains(name);
        Key<?> key = tokenizeOption ? null : ConfigKeys.byFlag(name).orElse(null);
        boolean takesValue = !(key != null && key.type() == ConfigKeys.Type.BOOLEAN);
        String value = inline;
        if (value == null && takesValue) {
          if (i + 1 >= args.length) {
            throw new InvalidInputException("option " + name + " needs a value");
          }
          value = args[++i];
        }
        if (name.equals("--config")) {
          configPath = value;
        } else if (name.equals("--format")) {
          format = OutputFormat.of(value);
        } else if (name.equals("--set")) {
          overrides.add(ConfigOverride.parse(value));
        } else if (tokenizeOption) {
          options.put(name, value);
        } else if (key != null) {
          overrides.add(ConfigOverride.ofFlag(name, value == null ? "true" : value));
        } else {
          throw new InvalidInputException("unknown option " + name + suggestOption(name)
              + "; see 'lopper help'");
        }
      } else if (arg.startsWith("-") && arg.length() > 1) {
        throw new InvalidInputException("unknown option " + arg + "; see 'lopper help'");
      } else if (command == null) {
        command = Command.of(arg).orElseThrow(() -> new InvalidInputException("unknown command '" + arg + "'"
            + suggestCommand(arg) + "; commands: " + String.join(", ",
                Arrays.stream(Command.values()).map(Command::word).toList())));
      } else if (command == Command.HELP && topic == null) {
        topic = arg;
      } else {
        throw new InvalidInputException("unexpected argument '" + arg + "' after command " + command.word()
            + "; options start with --, see 'lopper help'");
      }
    }
    if (help) {
      command = Command.HELP;
    }
    if (command == null) {
      throw new InvalidInputException("no command given; commands: " + String.join(", ",
          Arrays.stream(Command.values()).map(Command::word).toList()));
    }
    if (command == Command.HELP && topic != null && !topic.equals("config") && Command.of(topic).isEmpty()) {
      throw new InvalidInputException("no help on '" + topic + "'; try 'lopper help' or 'lopper help config'");
    }
    if (command == Command.TOKENIZE) {
      options = TokenizeCommand.options(options, configPath, overrides);
      configPath = null;
      overrides = List.of();
    } else if (command != Command.HELP && !options.isEmpty()) {
      throw new InvalidInputException("option " + options.keySet().iterator().next()
          + " belongs to 'lopper tokenize', not to " + command.word());
    }
    return new CommandLine(command, topic, configPath, overrides, verbose, quiet, resume, format, Arrays.asList(args),
        options);
  }

  private static String suggestOption(String name) {
    List<String> options = new ArrayList<>(OWN_OPTIONS);
    options.addAll(ConfigKeys.flags());
    options.addAll(TokenizeCommand.OPTIONS);
    return closest(name, options);
  }

  private static String suggestCommand(String word) {
    return closest(word, Arrays.stream(Command.values()).map(Command::word).toList());
  }

  private static String closest(String typed, List<String> known) {
    return ClosestName.among(typed, known).map(best -> " (did you mean " + best + "?)").orElse("");
  }
}
