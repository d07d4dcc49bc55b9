package dev.lopper.jobs.output;

import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.Supplier;

/** Wall-clock time per named stage of a run, in the order the stages ran; safe to share between threads. */
public final class StageTimings {

  private final Map<String, Long> millis = Collections.synchronizedMap(new LinkedHashMap<>());
  /** The stages being timed now, innermost last (for progress on the console). */
  private final Deque<String> running = new ConcurrentLinkedDeque<>();

  /** Runs {@code body} and records its duration under {@code stage} (also when it throws). */
  public <T> T time(String stage, Supplier<T> body) {
    long start = System.nanoTime();
    running.addLast(stage);
    try {
      return body.get();
    } finally {
      running.removeLastOccurrence(stage);
      record(stage, (System.nanoTime() - start) / 1_000_000);
    }
  }

  /** The innermost stage being timed now, or null. */
  public String current() {
    return running.peekLast();
  }

  /** Runs {@code body} and records its duration under {@code stage}. */
  public void time(String stage, Runnable body) {
    time(stage, () -> {
      body.run();
      return null;
    });
  }

  /** Adds {@code ms} milliseconds to {@code stage} (a stage run twice is summed). */
  public void record(String stage, long ms) {
    millis.merge(stage, ms, Long::sum);
  }

  /** Stage name to milliseconds, in order of first record. */
  public Map<String, Long> asMap() {
    synchronized (millis) {
      return Collections.unmodifiableMap(new LinkedHashMap<>(millis));
    }
  }
}
