package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  private static final Configuration CONF = new Configuration();
  private static final Fingerprint SWEEP = Fingerprint.builder().put("model", "5f1c").put("sparsities", "[0.5, 0.9]")
      .build();

  @TempDir
  Path dir;

  private final List<String> console = new ArrayList<>();

  private String output() {
    return dir.resolve("runs/x").toString();
  }

  private Checkpoint checkpoint(Checkpoint.Mode mode) {
    return Checkpoint.of(output(), mode, CONF, console::add);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private Path stepDir() {
    return dir.resolve("runs/x.checkpoint/sweep");
  }

  private List<String> files() throws IOException {
    try (Stream<Path> files = Files.list(stepDir())) {
      return files.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).sorted().toList();
    }
  }

  @Test
  void liesBesideTheConfiguredOutput() {
    assertEquals(dir.resolve("runs/x.checkpoint").toString(), Checkpoint.pathOf(output()));
  }

  @Test
  void aResumedRunReusesTheCommittedUnitsAndTheirNotes() throws IOException {
    Checkpoint.Step first = checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of("cores", "4"));
    assertFalse(first.resumed());
    first.commit(0, bytes("unit zero"));
    first.commit(2, bytes("unit two"));
    // Committed by rename: only the fingerprint and the two units, no temporary file left.
    assertEquals(List.of("fingerprint.json", "unit-00000", "unit-00002"), files());

    Checkpoint.Step again = checkpoint(Checkpoint.Mode.RESUME).open("sweep", SWEEP, Map.of("cores", "2"));
    assertTrue(again.resumed());
    assertEquals(Set.of(0, 2), again.committed());
    assertEquals(Map.of("cores", "4"), again.notes(), "the notes of the run that planned the units");
    assertArrayEquals(bytes("unit zero"), again.read(0));
    assertArrayEquals(bytes("unit two"), again.read(2));
    assertNull(again.read(1));
    assertEquals(List.of(), console);
  }

  @Test
  void resumeRefusesACheckpointOfAnotherConfigurationNamingTheDifference() {
    checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of()).commit(0, bytes("unit zero"));
    Fingerprint changed = Fingerprint.builder().put("model", "5f1c").put("sparsities", "[0.5]").build();
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> checkpoint(Checkpoint.Mode.RESUME).open("sweep", changed, Map.of()));
    assertEquals("--resume: the sweep checkpoint in " + Checkpoint.pathOf(output()) + " is of another run: "
        + "sparsities is [0.5, 0.9] in the checkpoint, [0.5] in this run; run without --resume to start afresh (the "
        + "checkpoint is then replaced)", e.getMessage());
    assertTrue(Files.exists(stepDir().resolve("unit-00000")), "the refused checkpoint is left as it was");
  }

  @Test
  void aScheduledRunDiscardsACheckpointOfAnotherConfigurationWithAWarning() throws IOException {
    checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of()).commit(0, bytes("unit zero"));
    Fingerprint changed = Fingerprint.builder().put("model", "77aa").put("sparsities", "[0.5, 0.9]").build();
    Checkpoint.Step step = checkpoint(Checkpoint.Mode.REUSE_IF_MATCHING).open("sweep", changed, Map.of());
    assertFalse(step.resumed());
    assertEquals(Set.of(), step.committed());
    assertEquals(List.of("fingerprint.json"), files());
    assertEquals(1, console.size());
    assertTrue(console.get(0).startsWith("lopper: warning: discarding the sweep checkpoint")
        && console.get(0).contains("model is 5f1c in the checkpoint, 77aa in this run"), console.get(0));
  }

  @Test
  void aScheduledRunReusesAMatchingCheckpoint() {
    checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of()).commit(3, bytes("unit three"));
    Checkpoint.Step step = checkpoint(Checkpoint.Mode.REUSE_IF_MATCHING).open("sweep", SWEEP, Map.of());
    assertTrue(step.resumed());
    assertEquals(Set.of(3), step.committed());
  }

  @Test
  void aRunWithoutResumeStartsAfreshAndSaysHowToReuse() throws IOException {
    checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of()).commit(0, bytes("unit zero"));
    Checkpoint.Step step = checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of());
    assertFalse(step.resumed());
    assertEquals(List.of("fingerprint.json"), files());
    assertEquals(List.of("lopper: warning: discarding the sweep checkpoint in " + Checkpoint.pathOf(output())
        + " (1 units of an interrupted run); pass --resume to reuse them"), console);
  }

  @Test
  void resumeWithoutACheckpointComputesEverything() {
    Checkpoint.Step step = checkpoint(Checkpoint.Mode.RESUME).open("sweep", SWEEP, Map.of());
    assertFalse(step.resumed());
    assertEquals(List.of("lopper: --resume: no sweep checkpoint in " + Checkpoint.pathOf(output())
        + "; every unit is computed"), console);
  }

  @Test
  void aHalfWrittenUnitOrOneOfAnotherFingerprintIsNotReused() throws IOException {
    Checkpoint.Step first = checkpoint(Checkpoint.Mode.FRESH).open("sweep", SWEEP, Map.of());
    first.commit(0, bytes("unit zero"));
    // A driver killed while writing leaves its hidden temporary file, never a unit's name.
    Files.writeString(stepDir().resolve(".unit-00001.tmp-0b5e"), "unit o");
    // A unit whose header names another fingerprint (copied in by hand, say) is computed again.
    Files.writeString(stepDir().resolve("unit-00002"), "lopper-checkpoint-unit\t" + "0".repeat(64) + "\nunit two");
    Checkpoint.Step again = checkpoint(Checkpoint.Mode.RESUME).open("sweep", SWEEP, Map.of());
    assertEquals(Set.of(0, 2), again.committed());
    assertArrayEquals(bytes("unit zero"), again.read(0));
    assertNull(again.read(2));
  }

  @Test
  void deleteRemovesTheCheckpointAndOffWritesNothing() {
    Checkpoint checkpoint = checkpoint(Checkpoint.Mode.FRESH);
    checkpoint.open("sweep", SWEEP, Map.of()).commit(0, bytes("unit zero"));
    checkpoint.delete();
    assertFalse(Files.exists(dir.resolve("runs/x.checkpoint")));

    Checkpoint.Step off = Checkpoint.off().open("sweep", SWEEP, Map.of());
    off.commit(0, bytes("unit zero"));
    assertFalse(off.resumed());
    assertNull(off.read(0));
    assertFalse(Files.exists(dir.resolve("runs/x.checkpoint")));
  }
}
