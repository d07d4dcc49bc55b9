package dev.lopper.jobs.cli;

import dev.lopper.InvalidInputException;

/** What a command prints on stdout when it ends ({@code --format}). */
public enum OutputFormat {
  /** Lines for people (the default). */
  TEXT,
  /** One JSON object for scripts ({@code dev.lopper.jobs.report.RunSummary}); messages for people go to stderr. */
  JSON;

  /** The format named {@code name} on the command line: {@code text} or {@code json}. */
  public static OutputFormat of(String name) {
    return switch (name) {
      case "text" -> TEXT;
      case "json" -> JSON;
      default -> throw new InvalidInputException("--format: unknown format '" + name + "'; use text or json");
    };
  }
}
