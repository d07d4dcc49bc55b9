package dev.lopper.metrics;

import java.io.Serial;
import java.io.Serializable;
import java.util.Objects;

/**
 * A causal language model's counts over some rows: the positions that had a target token, how many
 * of them the model predicted (argmax), and the exact sum of their negative log-likelihoods. Merges
 * exactly, like every part of a {@link Tally}.
 */
public final class TokenCounts implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final long targets;
  private final long correct;
  private final ExactSum nllSum;

  /**
   * Counts from their parts.
   *
   * @param targets positions with a target token
   * @param correct of them, those whose argmax was the target
   * @param nllSum the sum of their negative log-likelihoods (natural log), copied
   */
  public TokenCounts(long targets, long correct, ExactSum nllSum) {
    if (targets < 0 || correct < 0 || correct > targets) {
      throw new IllegalArgumentException("inconsistent token counts: targets=" + targets + ", correct=" + correct);
    }
    this.targets = targets;
    this.correct = correct;
    this.nllSum = nllSum.copy();
  }

  /** The counts of no rows. */
  public static TokenCounts empty() {
    return new TokenCounts(0, 0, new ExactSum());
  }

  /** The counts of both. */
  public TokenCounts merge(TokenCounts other) {
    return new TokenCounts(Math.addExact(targets, other.targets), Math.addExact(correct, other.correct),
        nllSum.copy().merge(other.nllSum));
  }

  /** Positions with a target token. */
  public long targets() {
    return targets;
  }

  /** Positions whose argmax was the target. */
  public long correct() {
    return correct;
  }

  /** A copy of the exact sum of the targets' negative log-likelihoods. */
  public ExactSum nllSum() {
    return nllSum.copy();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TokenCounts t && targets == t.targets && correct == t.correct && nllSum.equals(t.nllSum);
  }

  @Override
  public int hashCode() {
    return Objects.hash(targets, correct, nllSum);
  }

  @Override
  public String toString() {
    return "TokenCounts[targets=" + targets + ", correct=" + correct + ", nllSum=" + nllSum.value() + "]";
  }
}
