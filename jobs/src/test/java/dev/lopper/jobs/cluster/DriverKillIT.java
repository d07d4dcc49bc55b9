package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.jobs.output.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver JVM killed (SIGKILL, by its PID) in the middle of a prune's sweep on the standalone cluster,
 * once some sweep units are committed to {@code <output>.checkpoint}: the same command run again with
 * {@code --resume} reuses those units, computes the others, and writes {@code sensitivity.csv}, the
 * allocation, {@code masks.safetensors} and the pruned model byte for byte as the same command run
 * undisturbed; its console says how many units it reused.
 *
 * <p>The sweep is made slow as in ExecutorKillIT: 8 partitions, batches of one row and 19 grid points, so
 * 8 units of a few seconds each on two one-core executors.
 */
class DriverKillIT {
  private static final String GRID_TEXT = "[" + IntStream.rangeClosed(1, 19).mapToObj(i -> String.valueOf(i / 20.0))
      .collect(Collectors.joining(",")) + "]";
  /** The outputs that must not depend on the driver's death. */
  private static final List<String> OUTPUTS = List.of("sensitivity.csv", "allocation.csv", "masks.safetensors",
      "model/pruned.safetensors", "model/pruned.onnx");
  private static final Pattern REUSED = Pattern.compile("lopper: sweep: (\\d+) of (\\d+) units reused from the"
      + " checkpoint");

  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("DriverKillIT", 1);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  private static SubmittedApp prune(Path out, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of("prune", "--config", "conf/digits-cnn.yaml",
        "--set", "output.dir=" + out, "--set", "data.partitions=8", "--set", "data.batch-size=1",
        "--set", "sweep.sparsities=" + GRID_TEXT, "--set", "gate.max-drop=null"));
    args.addAll(List.of(more));
    return lopper.submit(args.toArray(String[]::new));
  }

  @Test
  void aPruneWhoseDriverWasKilledResumesWithIdenticalOutputs() throws Exception {
    Path undisturbed = lopper.workDir().resolve("undisturbed");
    Path killed = lopper.workDir().resolve("killed");
    Path units = Path.of(Checkpoint.pathOf(killed.toString())).resolve("sweep");
    long start = System.nanoTime();
    // The master runs one application at a time, in the order they register: the one to kill first, the
    // undisturbed one as soon as the killed driver's application is gone.
    SubmittedApp victim = prune(killed);
    LopperCluster.awaitApplicationId(victim);
    SubmittedApp quiet = prune(undisturbed);

    int committed = 0;
    while (committed < 2 && victim.isAlive() && LopperCluster.seconds(start) < LopperCluster.APP_TIMEOUT.toSeconds()) {
      committed = committedUnits(units).size();
      Thread.sleep(50);
    }
    if (!victim.isAlive()) {
      fail("the run to kill ended before two sweep units were committed\n" + victim.stderr());
    }
    victim.kill();
    List<String> atKill = committedUnits(units);
    System.out.printf("killed driver %d with %d sweep units committed (%s), %.1f s after submission%n", victim.pid(),
        atKill.size(), atKill, LopperCluster.seconds(start));
    assertFalse(victim.stderr().contains("lopper: prune finished"), "the killed run had finished:\n" + victim.stderr());
    assertFalse(Files.exists(killed), "the killed run committed its output");

    SubmittedApp resumed = prune(killed, "--resume");
    LopperCluster.awaitSuccess(quiet, "the undisturbed prune");
    System.out.printf("undisturbed prune done %.1f s after the first submission%n", LopperCluster.seconds(start));
    LopperCluster.awaitSuccess(resumed, "the resumed prune");
    System.out.printf("resumed prune done %.1f s after the first submission%n", LopperCluster.seconds(start));

    String console = resumed.stderr();
    Matcher reused = REUSED.matcher(console);
    assertTrue(reused.find(), "the resumed run does not say what it reused:\n" + console);
    int reusedUnits = Integer.parseInt(reused.group(1));
    System.out.println("resumed run: " + reused.group());
    assertTrue(reusedUnits >= atKill.size() && reusedUnits < Integer.parseInt(reused.group(2)),
        "reused " + reusedUnits + " units; " + atKill.size() + " were committed when the driver was killed");
    assertTrue(console.contains("took over the lock of " + killed), "the killed run's lock:\n" + console);

    LopperCluster.assertRanOnCluster(undisturbed);
    JsonNode manifest = LopperCluster.assertRanOnCluster(killed);
    assertEquals(reusedUnits, manifest.path("results").path("sweep_units_reused").asInt(), "the manifest's results");
    for (String file : OUTPUTS) {
      byte[] expected = Files.readAllBytes(undisturbed.resolve(file));
      byte[] actual = Files.readAllBytes(killed.resolve(file));
      long at = Arrays.mismatch(expected, actual);
      if (at >= 0) {
        fail(file + " of the resumed run (" + actual.length + " bytes) differs from the undisturbed run's ("
            + expected.length + " bytes) from byte " + at);
      }
    }
    assertFalse(Files.exists(units.getParent()), "the resumed run deleted the checkpoint once committed");
  }

  /** The committed units' file names in a checkpoint's step directory (none while it does not exist). */
  private static List<String> committedUnits(Path step) throws IOException {
    if (!Files.isDirectory(step)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(step)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("unit-\\d+")).sorted().toList();
    } catch (java.nio.file.NoSuchFileException e) {
      return List.of();
    }
  }
}
