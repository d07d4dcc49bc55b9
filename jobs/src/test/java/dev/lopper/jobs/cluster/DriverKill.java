package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The sequence DriverKillIT and CalibrationDriverKillIT share: one run whose driver is killed (SIGKILL,
 * by its PID) once some units are committed to a step of its checkpoint, the same command run
 * undisturbed, and the killed one run again with {@code --resume}; then the resumed run's outputs
 * compared byte for byte with the undisturbed run's.
 *
 * @param prune submits the command for an output directory, with extra arguments ({@code --resume})
 * @param step the checkpoint's step directory whose {@code unit-<n>} files are the committed units
 * @param reusedLine the resumed run's console line, groups 1 and 2 the reused and all units
 * @param what the units' name in messages ("sweep units", "calibration groups")
 */
record DriverKill(BiFunction<Path, String[], SubmittedApp> prune, Path step, Pattern reusedLine, String what) {

  /**
   * What happened.
   *
   * @param committedAtKill the units committed when the driver was killed
   * @param reused the units the resumed run reused
   * @param console the resumed run's console
   */
  record Outcome(List<String> committedAtKill, int reused, String console) {}

  /**
   * Runs {@code killed} (killed after {@code commits} committed units), {@code undisturbed}, and
   * {@code killed} again with {@code --resume}; checks that the first never committed, that the
   * resumed run says it reused at least the units committed at the kill and not all of them, that both
   * ran on the cluster, and that it deleted the checkpoint once committed.
   */
  Outcome run(Path undisturbed, Path killed, int commits) throws Exception {
    long start = System.nanoTime();
    // The master runs one application at a time, in the order they register: the one to kill first, the
    // undisturbed one as soon as the killed driver's application is gone.
    SubmittedApp victim = prune.apply(killed, new String[0]);
    LopperCluster.awaitApplicationId(victim);
    SubmittedApp quiet = prune.apply(undisturbed, new String[0]);

    int committed = 0;
    while (committed < commits && victim.isAlive()
        && LopperCluster.seconds(start) < LopperCluster.APP_TIMEOUT.toSeconds()) {
      committed = committedUnits(step).size();
      Thread.sleep(50);
    }
    if (!victim.isAlive()) {
      fail("the run to kill ended before " + commits + " " + what + " were committed\n" + victim.stderr());
    }
    victim.kill();
    List<String> atKill = committedUnits(step);
    System.out.printf("killed driver %d with %d %s committed (%s), %.1f s after submission%n", victim.pid(),
        atKill.size(), what, atKill, LopperCluster.seconds(start));
    assertFalse(victim.stderr().contains("lopper: prune finished"), "the killed run had finished:\n" + victim.stderr());
    assertFalse(Files.exists(killed), "the killed run committed its output");

    SubmittedApp resumed = prune.apply(killed, new String[] {"--resume"});
    LopperCluster.awaitSuccess(quiet, "the undisturbed run");
    System.out.printf("undisturbed run done %.1f s after the first submission%n", LopperCluster.seconds(start));
    LopperCluster.awaitSuccess(resumed, "the resumed run");
    System.out.printf("resumed run done %.1f s after the first submission%n", LopperCluster.seconds(start));

    String console = resumed.stderr();
    Matcher reused = reusedLine.matcher(console);
    assertTrue(reused.find(), "the resumed run does not say what it reused:\n" + console);
    System.out.println("resumed run: " + reused.group());
    int reusedUnits = Integer.parseInt(reused.group(1));
    assertTrue(reusedUnits >= atKill.size() && reusedUnits < Integer.parseInt(reused.group(2)),
        "reused " + reusedUnits + " " + what + "; " + atKill.size() + " were committed when the driver was killed");
    LopperCluster.assertRanOnCluster(undisturbed);
    LopperCluster.assertRanOnCluster(killed);
    assertFalse(Files.exists(step.getParent()), "the resumed run deleted the checkpoint once committed");
    return new Outcome(atKill, reusedUnits, console);
  }

  /** Fails unless each of {@code files} is the same bytes under both run directories. */
  static void assertSameFiles(Path expectedRun, Path actualRun, List<String> files) throws IOException {
    for (String file : files) {
      byte[] expected = Files.readAllBytes(expectedRun.resolve(file));
      byte[] actual = Files.readAllBytes(actualRun.resolve(file));
      long at = Arrays.mismatch(expected, actual);
      if (at >= 0) {
        fail(file + " of the resumed run (" + actual.length + " bytes) differs from the undisturbed run's ("
            + expected.length + " bytes) from byte " + at);
      }
    }
  }

  /** The committed units' file names in a checkpoint's step directory (none while it does not exist). */
  private static List<String> committedUnits(Path step) throws IOException {
    if (!Files.isDirectory(step)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(step)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("unit-\\d+")).sorted().toList();
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }
}
