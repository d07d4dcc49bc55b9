package dev.lopper.jobs.pipeline;

import dev.lopper.fixtures.SampleData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to activation-aware pruning: one line naming the key, tensor or file, exit code 2, no
 * output directory.
 */
class CalibrationBadInputTest {
  @TempDir Path dir;

  private RunLopper lm(Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("prune", "--model", SampleData.path("tiny-lm.onnx"), "--data",
        SampleData.path("tiny-lm-val.parquet"), "--metric", "perplexity", "--out", out.toString(),
        "--set", "allocation.policy=uniform"));
    args.addAll(List.of(more));
    return RunLopper.run(args.toArray(String[]::new));
  }

  @Test
  void refusesNoCalibrationRows() {
    Path out = dir.resolve("rows");
    lm(out, "--set", "sweep.criterion=wanda", "--set", "calibration.rows=0")
        .assertRefused(out, "calibration.rows", "positive integer");
  }

  @Test
  void refusesAPatternWhoseGroupIsNotShorter() {
    Path out = dir.resolve("nm");
    lm(out, "--set", "sweep.pattern=4:4").assertRefused(out, "sweep.pattern", "4:4");
  }

  @Test
  void refusesAGlobalMagnitudeThresholdForActivationAwareCriteria() {
    Path out = dir.resolve("global");
    lm(out, "--set", "sweep.criterion=wanda", "--set", "allocation.policy=global-magnitude")
        .assertRefused(out, "allocation.policy", "global-magnitude", "wanda");
  }

  @Test
  void refusesAPatternThatDoesNotFitATensorNamingIt() {
    Path out = dir.resolve("conv");
    RunLopper.run("prune", "--model", SampleData.path("digits-cnn.onnx"), "--data",
        SampleData.path("digits-val.parquet"), "--out", out.toString(), "--set", "sweep.criterion=wanda",
        "--set", "allocation.policy=uniform", "--set", "sweep.pattern=2:4")
        .assertRefused(out, "sweep.pattern 2:4", "conv1.weight", "9 inputs per output row, not a multiple of 4",
            "model.exclude");
  }

  @Test
  void refusesAGramMatrixThatIsNotPositiveDefiniteNamingTheTensorAndTheDampening() {
    // One row of 64 tokens gives a Gram matrix of rank at most 64 for an MLP down projection of 256
    // inputs: without dampening its Cholesky factorisation fails.
    Path out = dir.resolve("gram");
    lm(out, "--set", "sweep.criterion=sparsegpt", "--set", "calibration.rows=1", "--set", "calibration.dampening=0")
        .assertRefused(out, "mlp.down.weight", "calibration.dampening");
  }

  @Test
  void reusesStatisticsOfTheSameCalibrationAndRefusesOthersNamingTheFile() throws Exception {
    Path first = dir.resolve("first");
    RunLopper one = lm(first, "--set", "sweep.criterion=sparsegpt", "--set", "calibration.rows=16",
        "--set", "data.batch-size=8", "--set", "gate.max-drop=null");
    org.junit.jupiter.api.Assertions.assertEquals(dev.lopper.jobs.cli.ExitCode.SUCCESS, one.exit(), one.stderr());

    Path again = dir.resolve("again");
    RunLopper two = lm(again, "--set", "sweep.criterion=sparsegpt", "--set", "calibration.rows=16",
        "--set", "data.batch-size=8", "--set", "gate.max-drop=null", "--set", "calibration.from=" + first);
    org.junit.jupiter.api.Assertions.assertEquals(dev.lopper.jobs.cli.ExitCode.SUCCESS, two.exit(), two.stderr());
    for (String file : List.of("calibration/statistics.safetensors", "model/pruned.safetensors", "masks.safetensors")) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(java.nio.file.Files.readAllBytes(first.resolve(file)),
          java.nio.file.Files.readAllBytes(again.resolve(file)), file);
    }
    com.fasterxml.jackson.databind.JsonNode timings = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(again.resolve("manifest.json").toFile()).path("timings_millis");
    org.junit.jupiter.api.Assertions.assertTrue(timings.has("emission") && !timings.has("calibration"),
        "no calibration stage when the statistics are reused: " + timings);

    Path other = dir.resolve("other");
    lm(other, "--set", "sweep.criterion=sparsegpt", "--set", "calibration.rows=24", "--set", "data.batch-size=8",
        "--set", "calibration.from=" + first)
        .assertRefused(other, "calibration.from", first.resolve("calibration/statistics.safetensors").toString(),
            "rows is 16, this run's 24");
  }
}
