package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.fixtures.SampleData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a run does when the output file system refuses a write (a full disk): exit code, message, what is left. */
class FullDiskTest {
  @TempDir Path dir;

  @AfterEach
  void writeAgain() {
    FullFileSystem.refused = null;
  }

  private RunLopper sweep(String refused) {
    FullFileSystem.refused = refused;
    return RunLopper.run("sensitivity", "--config", SampleData.dir().getParent().resolve("conf/digits-cnn.yaml")
        .toString(), "--set", "model.onnx=" + SampleData.path("digits-cnn.onnx"),
        "--set", "model.weights=" + SampleData.path("digits-cnn.safetensors"),
        "--set", "data.path=" + SampleData.path("digits-val.parquet"), "--set", "sweep.sparsities=[0.5]", "--set", "allocation.target=0.5",
        "--set", "output.dir=full://" + dir.resolve("out"),
        "--set", "spark.conf.spark.hadoop.fs.full.impl=" + FullFileSystem.class.getName(),
        "--set", "spark.conf.spark.hadoop.fs.full.impl.disable.cache=true");
  }

  private List<String> left() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString().replaceAll("-\\d{8}T\\d{6}Z-[0-9a-f]{8}$", "-<run>"))
          .sorted().toList();
    }
  }

  /**
   * A table write refused midway: an internal error (exit 1), the temporary directory deleted, the lock
   * released; the checkpoint of the finished sweep units is kept, so that the run can be resumed.
   */
  @Test
  void aRefusedTableWriteExitsOneAndLeavesNothing() throws IOException {
    RunLopper run = sweep("sensitivity");
    System.out.println(run.stderr().lines().filter(l -> l.startsWith("lopper:")).toList());
    System.out.println("left: " + left());
    assertEquals(dev.lopper.jobs.cli.ExitCode.INTERNAL_ERROR, run.exit(), run.stderr());
    assertEquals(List.of("out.checkpoint"), left(), "what is left beside the output");
  }

  /**
   * The manifest's write refused, at the commit: exit 1, and the temporary directory is kept with every
   * output but no manifest (an incomplete run by the rule that a run is complete when its manifest is there),
   * and so is the checkpoint of the finished sweep units.
   */
  @Test
  void aRefusedManifestWriteExitsOneAndKeepsTheOutputsInTheTemporaryDirectory() throws IOException {
    RunLopper run = sweep("manifest.json");
    System.out.println(run.stderr().lines().filter(l -> l.startsWith("lopper:")).toList());
    System.out.println("left: " + left());
    assertEquals(dev.lopper.jobs.cli.ExitCode.INTERNAL_ERROR, run.exit(), run.stderr());
    assertEquals(List.of("out.checkpoint", "out.tmp-<run>"), left(), "what is left beside the output");
  }
}
