package dev.lopper.jobs.cli;

/** Lopper's process exit codes; schedulers and scripts can rely on them. */
public enum ExitCode {
  /** The command did what was asked (and the quality gate, if any, passed). */
  SUCCESS(0),
  /** Something went wrong inside Lopper or Spark: a bug or an environment problem; a stack trace is printed. */
  INTERNAL_ERROR(1),
  /** The configuration, the command line or an input is wrong; one line says what and where. */
  BAD_INPUT(2),
  /** The run completed but the pruned model's verified drop exceeds {@code gate.max-drop}. */
  GATE_FAILED(3),
  /**
   * A file system, metastore or cluster master could not be reached (connection refused, timed out,
   * unknown host, HDFS in safe mode): nothing is wrong with the run itself; retry later.
   */
  UNAVAILABLE(4);

  private final int code;

  ExitCode(int code) {
    this.code = code;
  }

  /** The process exit status. */
  public int code() {
    return code;
  }
}
