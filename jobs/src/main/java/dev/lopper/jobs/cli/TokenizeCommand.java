package dev.lopper.jobs.cli;

import dev.lopper.InvalidInputException;
import dev.lopper.jobs.config.ConfigOverride;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.report.RunSummary;
import dev.lopper.jobs.text.TextTokenization;
import dev.lopper.jobs.text.TextTokenization.Request;
import dev.lopper.jobs.text.TextTokenization.Summary;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * {@code lopper tokenize --tokenizer tokenizer.json --text text.parquet --column text --out
 * tokens.parquet}: its options and its run ({@link TextTokenization}), on this machine without
 * Spark. It takes no configuration file or keys; {@code --out} and {@code --overwrite} mean what
 * they mean for runs (the output, and replacing it).
 */
final class TokenizeCommand {

  /** The options only {@code tokenize} takes, each with a value. */
  static final List<String> OPTIONS = List.of("--tokenizer", "--text", "--column", "--max-length");

  /** The text column when {@code --column} is not given. */
  static final String DEFAULT_COLUMN = "text";

  private TokenizeCommand() {}

  /**
   * Tokenize's options from a parsed command line: its own, plus {@code --out} and {@code
   * --overwrite}, which the parser read as configuration flags.
   *
   * @throws InvalidInputException for {@code --config}, {@code --set} or another configuration flag
   */
  static Map<String, String> options(Map<String, String> own, String configPath, List<ConfigOverride> overrides) {
    if (configPath != null) {
      throw new InvalidInputException("tokenize takes no --config; its options: " + usageLine());
    }
    Map<String, String> options = new LinkedHashMap<>(own);
    for (ConfigOverride override : overrides) {
      if (override.origin().equals("--out") || override.origin().equals("--overwrite")) {
        options.put(override.origin(), override.value());
      } else {
        throw new InvalidInputException(override.origin() + " does not apply to tokenize, which takes no "
            + "configuration; its options: " + usageLine());
      }
    }
    return options;
  }

  /** Runs tokenize as {@code line} asks, printing a line for people and, with {@code --format json}, the summary. */
  static ExitCode run(CommandLine line, PrintStream out, PrintStream err) {
    long start = System.nanoTime();
    Request request = request(line.options());
    Summary s = TextTokenization.run(request, LopperConfig.baseHadoopConfiguration());
    double seconds = (System.nanoTime() - start) / 1e9;
    PrintStream human = line.format() == OutputFormat.JSON ? err : out;
    String truncation = s.maxLength().isEmpty() ? "no maximum length"
        : s.truncated() + (s.truncated() == 1 ? " row" : " rows") + " truncated to "
            + (s.ownMaxLength() ? "the tokenizer's maximum of " : "--max-length ") + s.maxLength().getAsInt();
    human.printf("lopper: tokenize finished in %.1f s: %s, %d rows, %d tokens (longest row %d; %s)%n", seconds,
        s.out(), s.rows(), s.tokens(), s.longest(), truncation);
    if (line.format() == OutputFormat.JSON) {
      Map<String, Object> results = new LinkedHashMap<>();
      results.put("rows", s.rows());
      results.put("tokens", s.tokens());
      results.put("longest", s.longest());
      results.put("truncated", s.truncated());
      results.put("max_length", s.maxLength().isPresent() ? s.maxLength().getAsInt() : null);
      out.println(new RunSummary(Command.TOKENIZE.word(), "SUCCEEDED", ExitCode.SUCCESS.code(), s.out(), null,
          null, null, seconds, null, results, null, null, null).toJson());
    }
    return ExitCode.SUCCESS;
  }

  private static Request request(Map<String, String> options) {
    OptionalInt maxLength = OptionalInt.empty();
    String max = options.get("--max-length");
    if (max != null) {
      try {
        maxLength = OptionalInt.of(Integer.parseInt(max.trim()));
      } catch (NumberFormatException e) {
        maxLength = OptionalInt.of(0);
      }
      if (maxLength.getAsInt() < 1) {
        throw new InvalidInputException("--max-length: expected a positive number of tokens, found '" + max + "'");
      }
    }
    String overwrite = options.getOrDefault("--overwrite", "false");
    if (!overwrite.equals("true") && !overwrite.equals("false")) {
      throw new InvalidInputException("--overwrite: expected true or false, found '" + overwrite + "'");
    }
    return new Request(required(options, "--tokenizer"), required(options, "--text"),
        options.getOrDefault("--column", DEFAULT_COLUMN), required(options, "--out"), maxLength,
        Boolean.parseBoolean(overwrite));
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null || value.isBlank()) {
      throw new InvalidInputException("tokenize needs " + name + "; usage: " + usageLine());
    }
    return value;
  }

  /** The command's synopsis. */
  static String usageLine() {
    return "lopper tokenize --tokenizer FILE --text FILE [--column NAME] --out FILE [--max-length N] [--overwrite]";
  }

}
