package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunResults;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --resume} on the real pipeline in local mode: a checkpoint of another run is refused with
 * the difference named and left as it was; a successful run deletes its checkpoint. (Reuse of
 * committed units is checked by SweepCheckpointTest, and after a killed driver by DriverKillIT.)
 */
class ResumeTest {
  @TempDir Path dir;

  private RunLopper sensitivity(String... more) {
    String[] args = {"sensitivity", "--model", SampleData.path("digits-mlp.onnx"), "--data",
        SampleData.path("digits-val.parquet"), "--features", "features", "--label", "label",
        "--out", dir.resolve("out").toString(), "--set", "sweep.sparsities=[0.5]"};
    String[] all = new String[args.length + more.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(more, 0, all, args.length, more.length);
    return RunLopper.run(all);
  }

  @Test
  void resumeRefusesTheCheckpointOfAnotherRunNamingTheDifference() throws IOException {
    Path checkpoint = Path.of(Checkpoint.pathOf(dir.resolve("out").toString()));
    Path record = checkpoint.resolve("sweep/fingerprint.json");
    Files.createDirectories(record.getParent());
    Files.writeString(record, "{\"fingerprint\": {\"lopper\": \"0.0.1-old\"}, \"notes\": {}, \"created\": null}");
    Files.writeString(checkpoint.resolve("sweep/unit-00000"), "a unit of the old run");

    RunLopper run = sensitivity("--resume");
    run.assertRefused(dir.resolve("out"), "--resume: the sweep checkpoint in " + checkpoint,
        "lopper is 0.0.1-old in the checkpoint", "run without --resume to start afresh");
    assertTrue(Files.exists(checkpoint.resolve("sweep/unit-00000")), "the refused checkpoint is left as it was");

    RunLopper fresh = sensitivity();
    assertEquals(ExitCode.SUCCESS, fresh.exit(), fresh.stderr());
    assertTrue(fresh.stderr().contains("lopper: warning: discarding the sweep checkpoint in " + checkpoint),
        fresh.stderr());
    assertFalse(Files.exists(checkpoint), "a committed run deletes its checkpoint");
    Manifest manifest = Manifest.read(dir.resolve("out/manifest.json").toString(), new Configuration());
    RunResults.SweepUnits units = RunResults.read(manifest.results(), RunResults.SweepUnits.class).orElseThrow();
    assertTrue(units.sweepUnits() > 0, units.toString());
    assertEquals(0, units.sweepUnitsReused());
  }
}
