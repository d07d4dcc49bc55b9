package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunDirectoryTest {

  @TempDir
  Path tmp;

  private final Configuration conf = new Configuration();

  private static void write(String path, String text, Configuration conf) {
    HadoopFiles.writeAtomically(path, conf, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
  }

  private static Manifest manifest(String runId) {
    return Manifest.builder(runId, "sensitivity").configuration(Map.of("metric", "accuracy")).build();
  }

  /** Visible entries of {@code dir} (Hadoop's local file system adds hidden .crc files). */
  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
  }

  @Test
  void refusesExistingOutputDirectory() throws IOException {
    Path out = Files.createDirectory(tmp.resolve("run"));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> RunDirectory.create(out.toString(), false, "r1", conf));
    assertEquals("output directory " + out + " exists; pass --overwrite or choose another", e.getMessage());
    assertEquals(List.of("run"), names(tmp), "nothing written");
  }

  @Test
  void writesIntoATemporarySiblingAndCommitsWithTheManifest() throws IOException {
    String out = tmp.resolve("run").toString();
    RunDirectory dir = RunDirectory.create(out, false, "r1", conf);
    assertEquals(tmp.resolve("run.tmp-r1").toString(), dir.workPath());
    write(dir.file("tables/sensitivity.csv"), "tensor,sparsity\n", conf);
    write(dir.file("report.txt"), "ok", conf);
    assertFalse(Files.exists(tmp.resolve("run")), "nothing at the output path before commit");

    Manifest written = dir.commit(manifest("r1"));

    assertEquals(List.of("run"), names(tmp), "the temporary sibling is gone");
    assertEquals(List.of("manifest.json", "report.txt", "tables"), names(tmp.resolve("run")));
    assertEquals("tensor,sparsity\n", Files.readString(tmp.resolve("run/tables/sensitivity.csv")));
    assertEquals(List.of(new OutputFile("report.txt", 2), new OutputFile("tables/sensitivity.csv", 16)),
        written.outputs());
    assertEquals(written, Manifest.read(tmp.resolve("run/manifest.json").toString(), conf));
  }

  @Test
  void aRunKilledBeforeCommitLeavesOnlyTheTemporarySibling() throws IOException {
    String out = tmp.resolve("run").toString();
    RunDirectory dir = RunDirectory.create(out, false, "r1", conf);
    write(dir.file("half.csv"), "tensor", conf);
    // The process dies here: no commit, no abort.
    assertEquals(List.of("run.tmp-r1"), names(tmp));
    List<String> leftovers = RunDirectory.leftovers(out, conf);
    assertEquals(1, leftovers.size());
    assertTrue(leftovers.get(0).endsWith("/run.tmp-r1"), leftovers.get(0));
    // A new run into the same output is not blocked by the leftover.
    RunDirectory again = RunDirectory.create(out, false, "r2", conf);
    again.commit(manifest("r2"));
    assertTrue(Files.exists(tmp.resolve("run/manifest.json")));
  }

  @Test
  void overwriteReplacesTheOldDirectoryWhole() throws IOException {
    Path out = Files.createDirectory(tmp.resolve("run"));
    Files.writeString(out.resolve("old.csv"), "old");
    RunDirectory dir = RunDirectory.create(out.toString(), true, "r2", conf);
    write(dir.file("new.csv"), "new", conf);
    assertTrue(Files.exists(out.resolve("old.csv")), "the old run stays until commit");
    dir.commit(manifest("r2"));
    assertEquals(List.of("manifest.json", "new.csv"), names(out));
    assertEquals(List.of("run"), names(tmp), "no temporary or replaced sibling left");
  }

  @Test
  void commitRefusesAnOutputThatAppearedMeanwhileAndKeepsTheWork() throws IOException {
    String out = tmp.resolve("run").toString();
    RunDirectory dir = RunDirectory.create(out, false, "r1", conf);
    write(dir.file("a.csv"), "a", conf);
    Files.createDirectory(tmp.resolve("run"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> dir.commit(manifest("r1")));
    assertTrue(e.getMessage().contains("appeared while the run was writing"), e.getMessage());
    assertTrue(Files.exists(tmp.resolve("run.tmp-r1/a.csv")));
  }

  @Test
  void abortDeletesTheTemporaryDirectory() throws IOException {
    RunDirectory dir = RunDirectory.create(tmp.resolve("run").toString(), false, "r1", conf);
    write(dir.file("a.csv"), "a", conf);
    dir.abort();
    assertEquals(List.of(), names(tmp));
  }

  @Test
  void refusesFileNamesOutsideTheDirectory() {
    RunDirectory dir = RunDirectory.create(tmp.resolve("run").toString(), false, "r1", conf);
    assertThrows(IllegalArgumentException.class, () -> dir.file("../x"));
    assertThrows(IllegalArgumentException.class, () -> dir.file("/abs"));
    assertThrows(IllegalArgumentException.class, () -> dir.file(RunDirectory.MANIFEST));
  }
}
