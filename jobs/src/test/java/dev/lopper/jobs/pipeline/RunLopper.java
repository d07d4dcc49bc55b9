package dev.lopper.jobs.pipeline;

import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.cli.Lopper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/** Runs the real command line with the real pipeline in local mode, capturing its output. */
record RunLopper(ExitCode exit, String stdout, String stderr) {

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
