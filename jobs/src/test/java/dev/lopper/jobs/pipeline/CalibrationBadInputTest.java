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
}
