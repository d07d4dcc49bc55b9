package dev.lopper.jobs.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Progress lines from task events, without a terminal and with one, on a hand-made timeline. */
class ProgressTrackerTest {

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

  private List<String> lines() {
    return bytes.toString(StandardCharsets.UTF_8).lines().toList();
  }

  @Test
  void formatsStageTasksElapsedAndTimeLeft() {
    assertEquals("lopper: sweep 12/36 tasks (33%), 0:04 elapsed, ~0:08 left",
        ProgressTracker.line("sweep", 12, 36, 4_000));
    assertEquals("lopper: sweep 36/36 tasks (100%), 1:02:03 elapsed", ProgressTracker.line("sweep", 36, 36, 3_723_000));
    assertEquals("lopper: data 0/3 tasks (0%), 0:00 elapsed", ProgressTracker.line("data", 0, 3, 10));
    assertEquals("12:34", ProgressTracker.duration(754_999));
  }

  @Test
  void plainLinesAtEveryTenthOfTheTasks() {
    ProgressTracker tracker = new ProgressTracker(out, false, 30_000);
    tracker.jobStarted(0, "sweep", 40, List.of(7), 0);
    for (int i = 1; i <= 40; i++) {
      tracker.taskEnded(7, true, i * 1000L);
    }
    tracker.jobEnded(0, 40_500);
    List<String> lines = lines();
    assertEquals(10, lines.size(), lines.toString());
    assertEquals("lopper: sweep 4/40 tasks (10%), 0:04 elapsed, ~0:36 left", lines.get(0));
    assertEquals("lopper: sweep 40/40 tasks (100%), 0:40 elapsed", lines.get(9));
  }

  @Test
  void plainLineAfterTheHeartbeatWhenTasksAreSlow() {
    ProgressTracker tracker = new ProgressTracker(out, false, 30_000);
    tracker.jobStarted(0, "sweep", 1000, List.of(1), 0);
    tracker.taskEnded(1, true, 10_000);
    tracker.taskEnded(1, true, 29_000);
    tracker.taskEnded(1, true, 31_000);
    tracker.taskEnded(1, false, 70_000);
    assertEquals(List.of("lopper: sweep 3/1000 tasks (0%), 0:31 elapsed, ~2:51:42 left"), lines(),
        "nothing at 10 s and 29 s (below a tenth, within the heartbeat), failed tasks not counted");
  }

  @Test
  void jobsWithoutGroupAddUpUnderTheRunStageAndSkippedStagesLeaveTheTotal() {
    ProgressTracker tracker = new ProgressTracker(out, false, 30_000);
    tracker.jobStarted(0, "data", 1, List.of(0), 0);
    tracker.taskEnded(0, true, 500);
    tracker.jobEnded(0, 600);
    // Two stages of 2 and 3 tasks; the first is skipped (its output reused), so 3 tasks run.
    tracker.jobStarted(1, "data", 5, List.of(1, 2), 1000);
    tracker.taskEnded(2, true, 1100);
    tracker.taskEnded(2, true, 1200);
    tracker.taskEnded(2, true, 1300);
    tracker.jobEnded(1, 1400);
    tracker.jobStarted(2, "sweep", 2, List.of(3), 2000);
    tracker.taskEnded(3, true, 3000);
    tracker.taskEnded(3, true, 4000);
    tracker.jobEnded(2, 4000);
    List<String> lines = lines();
    assertEquals("lopper: data 1/1 tasks (100%), 0:00 elapsed", lines.get(0));
    assertEquals("lopper: data 4/4 tasks (100%), 0:01 elapsed", lines.get(lines.size() - 3));
    assertEquals("lopper: sweep 1/2 tasks (50%), 0:01 elapsed, ~0:01 left", lines.get(lines.size() - 2));
    assertEquals("lopper: sweep 2/2 tasks (100%), 0:02 elapsed", lines.get(lines.size() - 1));
  }

  @Test
  void terminalRewritesOneLinePerStage() {
    ProgressTracker tracker = new ProgressTracker(out, true, 30_000);
    tracker.jobStarted(0, "sweep", 3, List.of(0), 0);
    tracker.taskEnded(0, true, 1000);
    tracker.taskEnded(0, true, 1050);   // within 200 ms of the last rewrite: skipped
    tracker.taskEnded(0, true, 2000);
    tracker.jobEnded(0, 2000);
    tracker.jobStarted(1, "verification", 1, List.of(1), 2500);
    tracker.taskEnded(1, true, 3000);
    tracker.close();
    String text = bytes.toString(StandardCharsets.UTF_8);
    String first = "lopper: sweep 1/3 tasks (33%), 0:01 elapsed, ~0:02 left";
    String done = "lopper: sweep 3/3 tasks (100%), 0:02 elapsed";
    assertEquals("\r" + first + "\r" + done + " ".repeat(first.length() - done.length()) + System.lineSeparator()
        + "\rlopper: verification 1/1 tasks (100%), 0:00 elapsed" + System.lineSeparator(), text);
    assertTrue(text.endsWith(System.lineSeparator()));
  }

  @Test
  void labelsJobsByGroupThenRunStage() {
    assertEquals("sweep", ConsoleProgress.label("lopper-sweep", "sweep"));
    assertEquals("verification", ConsoleProgress.label("lopper-verify", "verification"));
    assertEquals("data", ConsoleProgress.label(null, "data"));
    assertEquals("spark", ConsoleProgress.label(null, null));
    assertEquals("nightly", ConsoleProgress.label("nightly", "data"));
  }
}
