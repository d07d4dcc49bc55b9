package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Run directories named by date, and finding the previous complete run among them. */
class DatedRunsTest {

  @TempDir
  Path base;

  private final Configuration conf = new Configuration();

  private void run(String name, String command) throws IOException {
    Path dir = Files.createDirectories(base.resolve(name));
    Manifest.builder(name, command).output(dir.toString()).build()
        .write(dir.resolve("manifest.json").toString(), conf);
  }

  @Test
  void namesTheRunByItsUtcDateThenByDateAndTime() throws IOException {
    Instant late = Instant.parse("2026-03-01T23:30:05Z");
    assertEquals(base.resolve("2026-03-01").toString(), DatedRuns.name(base.toString(), false, late, conf));
    Files.createDirectories(base.resolve("2026-03-01"));
    assertEquals(base.resolve("2026-03-01T233005Z").toString(), DatedRuns.name(base.toString(), false, late, conf));
    assertEquals(base.resolve("2026-03-01").toString(), DatedRuns.name(base.toString(), true, late, conf),
        "overwriting replaces the day's run");
    Files.createDirectories(base.resolve("2026-03-01T233005Z"));
    assertThrows(InvalidInputException.class, () -> DatedRuns.name(base.toString(), false, late, conf));
  }

  @Test
  void previousIsTheLatestEarlierCompleteRunOfTheSameCommand() throws IOException {
    run("2026-01-01", "prune");
    run("2026-01-02", "prune");
    run("2026-01-02T120000Z", "sensitivity");
    Files.createDirectories(base.resolve("2026-01-03"));                 // killed: no manifest
    Files.createDirectories(base.resolve("2026-01-04.tmp-abc"));         // in progress
    run("2026-01-06", "prune");                                          // later than the current run
    run("notes", "prune");                                               // not a dated name
    String current = base.resolve("2026-01-05").toString();
    assertEquals(Optional.of(base.resolve("2026-01-02").toString()),
        DatedRuns.previous(base.toString(), current, "prune", conf));
    assertEquals(Optional.of(base.resolve("2026-01-02T120000Z").toString()),
        DatedRuns.previous(base.toString(), current, "sensitivity", conf));
    assertEquals(Optional.empty(), DatedRuns.previous(base.toString(), base.resolve("2026-01-01").toString(), "prune",
        conf));
    assertEquals(Optional.empty(), DatedRuns.previous(base.resolve("none").toString(), current, "prune", conf));
    assertTrue(DatedRuns.isDated("2026-01-02T120000Z"));
  }
}
