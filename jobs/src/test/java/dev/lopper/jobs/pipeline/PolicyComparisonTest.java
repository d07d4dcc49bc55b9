package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 3: at 70% overall sparsity on the sample CNN, the verified accuracy of the {@code target}
 * allocation is at least that of {@code global-magnitude} and better than {@code uniform}. The
 * three runs are the real command line with the real Spark stages, and the figures compared are
 * the verified ones the runs wrote.
 */
class PolicyComparisonTest {
  @TempDir Path dir;

  private Table run(String policy) {
    Path out = dir.resolve(policy);
    RunLopper run = RunLopper.run("prune", "--config", SampleData.dir().resolveSibling("conf").resolve("digits-cnn.yaml").toString(),
        "--set", "model.onnx=" + SampleData.path("digits-cnn.onnx"),
        "--set", "model.weights=" + SampleData.path("digits-cnn.safetensors"),
        "--set", "data.path=" + SampleData.path("digits-val.parquet"),
        "--set", "allocation.policy=" + policy, "--set", "allocation.target=0.7",
        "--set", "gate.max-drop=1.0", "--out", out.toString());
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Table masks = ParquetTables.read(out.resolve("masks.parquet").toString(), new Configuration());
    long pruned = 0;
    long parameters = 0;
    for (List<Object> row : masks.rows()) {
      pruned += (Long) row.get(masks.indexOf("pruned"));
      parameters += (Long) row.get(masks.indexOf("parameters"));
    }
    assertEquals(0.7, (double) pruned / parameters, 0.005, policy + ": overall sparsity");
    return ParquetTables.read(out.resolve("verification.parquet").toString(), new Configuration());
  }

  private static double prunedAccuracy(Table verification) {
    for (List<Object> row : verification.rows()) {
      if (row.get(verification.indexOf("model")).equals("pruned")) {
        return (Double) row.get(verification.indexOf("accuracy"));
      }
    }
    throw new AssertionError("no pruned row");
  }

  @Test
  void targetAllocationBeatsUniformAndMatchesOrBeatsGlobalMagnitude() {
    Map<String, Double> accuracy = new LinkedHashMap<>();
    for (String policy : new String[] {"target", "global-magnitude", "uniform"}) {
      accuracy.put(policy, prunedAccuracy(run(policy)));
    }
    assertTrue(accuracy.get("target") >= accuracy.get("global-magnitude"), accuracy.toString());
    assertTrue(accuracy.get("target") > accuracy.get("uniform"), accuracy.toString());
  }
}
