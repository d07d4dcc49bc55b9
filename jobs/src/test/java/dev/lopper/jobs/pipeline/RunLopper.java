package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.cli.Lopper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/** Runs the real command line with the real pipeline in local mode, capturing its output. */
record RunLopper(ExitCode exit, String stdout, String stderr) {

  /**
   * Asserts that the run was refused as bad input: exit 2, one error line holding every fragment,
   * no stack trace, and no output directory {@code out} left behind.
   */
  void assertRefused(Path out, String... fragments) {
    assertEquals(ExitCode.BAD_INPUT, exit, stderr);
    String line = stderr.lines().filter(l -> l.startsWith("lopper: error:")).findFirst().orElse("");
    for (String fragment : fragments) {
      assertTrue(line.contains(fragment), "'" + fragment + "' not in: " + stderr);
    }
    assertFalse(Files.exists(out), "no output directory is left");
    assertFalse(stderr.contains("\tat "), "no stack trace: " + stderr);
  }

  static RunLopper run(String... args) {
    return run(Clock.systemUTC(), args);
  }

  /** As {@link #run(String...)}, with {@code clock} naming run directories by date. */
  static RunLopper run(Clock clock, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    if (!all.get(0).equals("tokenize")) { // tokenize starts no Spark
      all.add("--master");
      all.add("local[2]");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ExitCode exit = Lopper.run(all.toArray(String[]::new), new Pipeline(), clock,
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new RunLopper(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
