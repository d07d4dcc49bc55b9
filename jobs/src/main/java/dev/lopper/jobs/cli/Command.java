package dev.lopper.jobs.cli;

import java.util.Arrays;
import java.util.Optional;

/** Lopper's commands. */
public enum Command {
  /** The sensitivity sweep only. */
  SENSITIVITY("sensitivity", "measure every prunable tensor's sensitivity (sweep only)"),
  /** Sweep, allocation, emission, verification and the quality gate. */
  PRUNE("prune", "sweep, allocate sparsities, write the mask and pruned model, verify, apply the gate"),
  /** Validate the configuration and inputs; start nothing. */
  CHECK("check", "validate the configuration and inputs, print the configuration as it would run"),
  /** Text into a transformer's inputs (Parquet); no configuration, no Spark. */
  TOKENIZE("tokenize", "turn a Parquet column of text into input_ids, attention_mask, token_type_ids"),
  /** Print usage, or the configuration reference with {@code help config}. */
  HELP("help", "print this help; 'lopper help config' lists every configuration key");

  private final String word;
  private final String summary;

  Command(String word, String summary) {
    this.word = word;
    this.summary = summary;
  }

  /** The word typed on the command line. */
  public String word() {
    return word;
  }

  /** One line for the usage text. */
  public String summary() {
    return summary;
  }

  /** The command typed as {@code word}. */
  public static Optional<Command> of(String word) {
    return Arrays.stream(values()).filter(c -> c.word.equals(word)).findFirst();
  }
}
