package dev.lopper.jobs.cluster;

import dev.lopper.jobs.output.Checkpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
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
    DriverKill kill = new DriverKill(CalibrationDriverKillIT::prune,
        Path.of(Checkpoint.pathOf(killed.toString())).resolve("calibration"), REUSED, "calibration groups");
    kill.run(undisturbed, killed, 1);
    DriverKill.assertSameFiles(undisturbed, killed, OUTPUTS);
  }
}
