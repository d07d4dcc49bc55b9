package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lopper.jobs.output.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver JVM killed (SIGKILL) during sequential SparseGPT calibration on the standalone cluster, once the
 * first group's statistics are committed to {@code <output>.checkpoint/calibration}: the same prune run again
 * with {@code --resume} reuses the committed groups (carrying only the held values past them), gathers the
 * others, and writes {@code calibration/statistics.safetensors}, the masks and the pruned model byte for byte
 * as the same command run undisturbed.
 *
 * <p>As in CalibrationKillIT: the tiny LM's 112 rows in chunks of one row, three groups (two blocks, then the
 * head), several seconds per pass.
 */
class CalibrationDriverKillIT {
  private static final List<String> OUTPUTS = List.of("calibration/statistics.safetensors", "masks.safetensors",
      "model/pruned.safetensors", "model/pruned.onnx");
  private static final Pattern REUSED = Pattern.compile("lopper: calibration: (\\d+) of (\\d+) groups reused from"
      + " the checkpoint");

  private static LopperCluster lopper;

  @BeforeAll
  static void startCluster() throws IOException {
    lopper = LopperCluster.start("CalibrationDriverKillIT", 1);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    if (lopper != null) {
      lopper.close();
    }
  }

  private static SubmittedApp prune(Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("prune", "--model", "data/tiny-lm.onnx", "--data",
        "data/tiny-lm-val.parquet", "--metric", "perplexity", "--out", out.toString(),
        "--set", "sweep.criterion=sparsegpt", "--set", "allocation.policy=uniform",
        "--set", "allocation.target=0.5", "--set", "calibration.sequential=true",
        "--set", "calibration.rows=112", "--set", "data.batch-size=1", "--set", "gate.max-drop=null",
        "--set", "data.partitions=8"));
    args.addAll(List.of(more));
    return lopper.submit(args.toArray(String[]::new));
  }

  @Test
  void aPruneWhoseDriverWasKilledInCalibrationResumesWithIdenticalOutputs() throws Exception {
    Path undisturbed = lopper.workDir().resolve("undisturbed");
    Path killed = lopper.workDir().resolve("killed");
    Path units = Path.of(Checkpoint.pathOf(killed.toString())).resolve("calibration");
    long start = System.nanoTime();
    SubmittedApp victim = prune(killed);
    LopperCluster.awaitApplicationId(victim);
    SubmittedApp quiet = prune(undisturbed);

    int committed = 0;
    while (committed < 1 && victim.isAlive() && LopperCluster.seconds(start) < LopperCluster.APP_TIMEOUT.toSeconds()) {
      committed = committedUnits(units).size();
      Thread.sleep(50);
    }
    if (!victim.isAlive()) {
      fail("the run to kill ended before a calibration group was committed\n" + victim.stderr());
    }
    victim.kill();
    List<String> atKill = committedUnits(units);
    System.out.printf("killed driver %d with %d calibration groups committed (%s), %.1f s after submission%n",
        victim.pid(), atKill.size(), atKill, LopperCluster.seconds(start));
    assertFalse(Files.exists(killed), "the killed run committed its output");

    SubmittedApp resumed = prune(killed, "--resume");
    LopperCluster.awaitSuccess(quiet, "the undisturbed prune");
    System.out.printf("undisturbed prune done %.1f s after the first submission%n", LopperCluster.seconds(start));
    LopperCluster.awaitSuccess(resumed, "the resumed prune");
    System.out.printf("resumed prune done %.1f s after the first submission%n", LopperCluster.seconds(start));

    String console = resumed.stderr();
    Matcher reused = REUSED.matcher(console);
    assertTrue(reused.find(), "the resumed run does not say what it reused:\n" + console);
    System.out.println("resumed run: " + reused.group());
    int reusedGroups = Integer.parseInt(reused.group(1));
    assertTrue(reusedGroups >= atKill.size() && reusedGroups < Integer.parseInt(reused.group(2)),
        "reused " + reusedGroups + " groups; " + atKill.size() + " were committed when the driver was killed");

    LopperCluster.assertRanOnCluster(undisturbed);
    LopperCluster.assertRanOnCluster(killed);
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
