package dev.lopper.jobs.output;

/** How a committed run ended, as recorded in its manifest. */
public enum RunStatus {
  /** Every stage ran and the quality gate, if any, passed. */
  SUCCEEDED,
  /** Every stage ran but the verified drop exceeded {@code gate.max-drop}; outputs kept for inspection. */
  FAILED_GATE
}
