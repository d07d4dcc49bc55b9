package dev.lopper.jobs.report;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Counts Spark tasks per stage of a run (sweep, verification, ...) and prints progress lines: the
 * stage, tasks done of total, elapsed and estimated time left.
 *
 * <pre>
 * lopper: sweep 12/36 tasks (33%), 0:04 elapsed, ~0:08 left
 * </pre>
 *
 * <p>On a terminal one line is rewritten in place (with {@code \r}) as tasks finish; otherwise —
 * the logs of scheduled runs — a plain line is printed each time another tenth of a stage's tasks
 * is done, or when {@code heartbeatMillis} have passed since the last line with progress made.
 * The tracker takes its times from the events, so the same events always print the same lines;
 * it is fed by {@link ConsoleProgress} and is not thread-safe on its own.
 */
final class ProgressTracker {

  /** Time between rewrites of the terminal line, so a burst of small tasks does not flood it. */
  private static final long TERMINAL_INTERVAL_MILLIS = 200;

  private final PrintStream out;
  private final boolean terminal;
  private final long heartbeatMillis;
  /** The stage of the job started last: a job with the same label adds to it. */
  private Stage current;
  private final Map<Integer, Job> jobs = new HashMap<>();
  private final Map<Integer, Job> jobByStage = new HashMap<>();
  /** On a terminal: the length of the line currently shown (0: none), and its stage. */
  private int shownLength;
  private Stage shown;

  /** A run's stage as the console shows it: every job started under one label. */
  private static final class Stage {
    final String label;
    final long startMillis;
    long total;
    long done;
    int lastDecile;
    long lastPrintMillis;
    long lastPrintDone = -1;
    long lastPrintTotal = -1;
    int activeJobs;

    Stage(String label, long startMillis) {
      this.label = label;
      this.startMillis = startMillis;
      this.lastPrintMillis = startMillis;
    }
  }

  private record Job(Stage stage, int tasks, int[] done) {}

  /**
   * @param out where lines go (stderr)
   * @param terminal true to rewrite one line in place, false for plain lines
   * @param heartbeatMillis in plain mode, the longest silence while tasks finish
   */
  ProgressTracker(PrintStream out, boolean terminal, long heartbeatMillis) {
    this.out = out;
    this.terminal = terminal;
    this.heartbeatMillis = heartbeatMillis;
  }

  /** A job started: {@code tasks} tasks over its {@code stageIds}, counted under {@code label}. */
  void jobStarted(int jobId, String label, int tasks, List<Integer> stageIds, long timeMillis) {
    Stage stage = current != null && current.label.equals(label) ? current : new Stage(label, timeMillis);
    current = stage;
    stage.total += tasks;
    stage.activeJobs++;
    Job job = new Job(stage, tasks, new int[1]);
    jobs.put(jobId, job);
    for (int id : stageIds) {
      jobByStage.put(id, job);
    }
    if (stage.lastDecile > decile(stage)) {
      stage.lastDecile = decile(stage);
    }
  }

  /** A task of Spark stage {@code stageId} ended; only successful tasks count. */
  void taskEnded(int stageId, boolean successful, long timeMillis) {
    Job job = jobByStage.get(stageId);
    if (job == null || !successful || job.done()[0] >= job.tasks()) {
      return;
    }
    job.done()[0]++;
    job.stage().done++;
    report(job.stage(), timeMillis, false);
  }

  /** A job ended: tasks it did not run (stages skipped, their output reused) leave the total. */
  void jobEnded(int jobId, long timeMillis) {
    Job job = jobs.remove(jobId);
    if (job == null) {
      return;
    }
    jobByStage.values().removeIf(j -> j == job);
    Stage stage = job.stage();
    stage.total -= job.tasks() - job.done()[0];
    stage.activeJobs--;
    if (stage.activeJobs == 0) {
      report(stage, timeMillis, true);
    }
  }

  /** Ends the terminal line, if one is shown. */
  void close() {
    if (terminal && shownLength > 0) {
      out.println();
      out.flush();
      shownLength = 0;
      shown = null;
    }
  }

  private static int decile(Stage s) {
    return s.total <= 0 ? 0 : (int) (s.done * 10 / s.total);
  }

  private void report(Stage stage, long now, boolean jobEnd) {
    if (terminal) {
      boolean complete = stage.done >= stage.total;
      if (stage == shown && (unchanged(stage)
          || (!complete && now - stage.lastPrintMillis < TERMINAL_INTERVAL_MILLIS))) {
        return;
      }
      if (stage != shown && shownLength > 0) {
        out.println();
        shownLength = 0;
      }
      String line = line(stage, now);
      out.print("\r" + line + " ".repeat(Math.max(0, shownLength - line.length())));
      out.flush();
      shownLength = line.length();
      shown = stage;
      stage.lastPrintMillis = now;
      stage.lastPrintDone = stage.done;
      stage.lastPrintTotal = stage.total;
      return;
    }
    if (unchanged(stage)) {
      return;
    }
    int decile = decile(stage);
    boolean nextTenth = decile > stage.lastDecile;
    boolean heartbeat = now - stage.lastPrintMillis >= heartbeatMillis;
    if (nextTenth || heartbeat || (jobEnd && stage.done >= stage.total)) {
      out.println(line(stage, now));
      out.flush();
      stage.lastDecile = Math.max(stage.lastDecile, decile);
      stage.lastPrintMillis = now;
      stage.lastPrintDone = stage.done;
      stage.lastPrintTotal = stage.total;
    }
  }

  /** True when the stage's counts are those of its last line. */
  private static boolean unchanged(Stage s) {
    return s.done == s.lastPrintDone && s.total == s.lastPrintTotal;
  }

  /** "lopper: sweep 12/36 tasks (33%), 0:04 elapsed, ~0:08 left". */
  static String line(String label, long done, long total, long elapsedMillis) {
    StringBuilder s = new StringBuilder("lopper: ").append(label).append(' ').append(done).append('/').append(total)
        .append(" tasks");
    if (total > 0) {
      s.append(" (").append(done * 100 / total).append("%)");
    }
    s.append(", ").append(duration(elapsedMillis)).append(" elapsed");
    if (done > 0 && done < total) {
      s.append(", ~").append(duration(elapsedMillis * (total - done) / done)).append(" left");
    }
    return s.toString();
  }

  private static String line(Stage stage, long now) {
    return line(stage.label, stage.done, stage.total, Math.max(0, now - stage.startMillis));
  }

  /** "0:07", "12:34", "1:02:03". */
  static String duration(long millis) {
    long s = Math.max(0, millis) / 1000;
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
