package dev.lopper.jobs.config;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/** Finds what a person probably meant: the known name closest to a mistyped one, for "did you mean" hints. */
public final class ClosestName {

  private ClosestName() {}

  /**
   * The name in {@code known} with the smallest edit distance to {@code typed}, if that distance is
   * at most two or a third of the typed length, whichever is larger.
   */
  public static Optional<String> among(String typed, Collection<String> known) {
    return known.stream()
        .min(Comparator.comparingInt((String k) -> distance(typed, k)))
        .filter(best -> distance(typed, best) <= Math.max(2, typed.length() / 3));
  }

  /** Levenshtein distance: insertions, deletions and substitutions of one character. */
  public static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j] + 1, current[j - 1] + 1));
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
