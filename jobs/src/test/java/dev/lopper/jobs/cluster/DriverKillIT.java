package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.jobs.output.Checkpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
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
    DriverKill kill = new DriverKill(DriverKillIT::prune, Path.of(Checkpoint.pathOf(killed.toString())).resolve("sweep"),
        REUSED, "sweep units");
    DriverKill.Outcome outcome = kill.run(undisturbed, killed, 2);
    assertTrue(outcome.console().contains("took over the lock of " + killed), "the killed run's lock:\n"
        + outcome.console());
    JsonNode manifest = LopperCluster.assertRanOnCluster(killed);
    assertEquals(outcome.reused(), manifest.path("results").path("sweep_units_reused").asInt(),
        "the manifest's results");
    DriverKill.assertSameFiles(undisturbed, killed, OUTPUTS);
  }
}
