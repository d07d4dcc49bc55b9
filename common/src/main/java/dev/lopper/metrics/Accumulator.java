package dev.lopper.metrics;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.eval.Logits;

/**
 * Adds the scores of batches of one variant's outputs up to a {@link Tally}, inside one task.
 * Mutable, not thread-safe; {@link #toTally()} takes an immutable snapshot. Made by a {@link
 * Scoring}.
 */
public interface Accumulator {

  /**
   * Adds the rows of one batch.
   *
   * @param output the variant's output for the batch's rows
   * @param batch the batch it was computed from (its labels or targets, and which positions count)
   * @param dense the dense model's output for the same rows, or null when there is none to compare
   *     with
   * @throws InvalidInputException when a label or target lies outside the output's classes, or
   *     the output's shape fits no metric of this accumulator
   */
  Accumulator add(Logits output, Batch batch, Logits dense);

  /** An immutable snapshot of what was added so far. */
  Tally toTally();
}
