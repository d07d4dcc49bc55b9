package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.jobs.config.ConfigOverride;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a run does with a checkpoint it finds: --resume reuses or refuses, scheduled runs reuse a matching one. */
class CheckpointModeTest {

  private static Checkpoint.Mode mode(boolean nameByDate, String... args) {
    List<ConfigOverride> overrides = new ArrayList<>(List.of(ConfigOverride.ofFlag("--model", "data/digits-cnn.onnx"),
        ConfigOverride.ofFlag("--data", "data/digits-val.parquet"), ConfigOverride.ofFlag("--out", "runs/out"),
        ConfigOverride.parse("output.name-by-date=" + nameByDate)));
    LopperConfig config = LopperConfig.parse(null, null, overrides);
    return PipelineRun.checkpointMode(CommandLine.parse(args), config);
  }

  @Test
  void resumeReusesOrRefusesAScheduledRunReusesIfMatchingOthersStartAfresh() {
    assertEquals(Checkpoint.Mode.RESUME, mode(false, "sensitivity", "--resume"));
    assertEquals(Checkpoint.Mode.RESUME, mode(true, "prune", "--resume"));
    assertEquals(Checkpoint.Mode.REUSE_IF_MATCHING, mode(true, "prune"));
    assertEquals(Checkpoint.Mode.FRESH, mode(false, "prune"));
  }
}
