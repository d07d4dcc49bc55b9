package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.Fingerprint;
import dev.lopper.jobs.spark.LocalSpark;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep that commits its units to a checkpoint, of which some are then lost as when the driver dies
 * before they finish, is resumed: the committed units are reused, the others computed, and every tally
 * equals the uninterrupted sweep's.
 */
class SweepCheckpointTest {
  private static final double[] GRID = {0.3, 0.6, 0.9};
  private static SparkSession spark;
  private static Broadcast<SerializableConfiguration> conf;

  @TempDir
  Path dir;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start(2);
    conf = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .broadcast(new SerializableConfiguration(spark.sparkContext().hadoopConfiguration()));
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void aResumedSweepReusesCommittedUnitsAndEqualsTheUninterruptedOne() throws IOException {
    OnnxModel cnn = OnnxModel.load(new ModelSource(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors")), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(cnn);
    SweepSpec spec = new SweepSpec(cnn.source(), cnn.checksum(), tensors, "magnitude", GRID, 64, 1, 0, 10);
    ValidationData data = ValidationData.load(spark, new ValidationData.Spec(SampleData.path("digits-val.parquet"),
        "features", "label", new long[] {1, 8, 8}, 3), 10);
    Fingerprint fingerprint = Fingerprint.builder().put("model", cnn.checksum()).put("grid", "0.3,0.6,0.9").build();
    String output = dir.resolve("runs/x").toString();
    List<String> console = new ArrayList<>();
    try {
      SweepResult uninterrupted = SensitivitySweep.run(spark, data, spec, conf);

      SweepResult first = SensitivitySweep.run(spark, data, spec, conf,
          Checkpoint.of(output, Checkpoint.Mode.FRESH, new Configuration(), console::add), fingerprint);
      assertSame(uninterrupted, first, tensors.size());
      List<Path> units = units();
      assertTrue(units.size() >= 4, "units committed: " + units);
      // Lose every other unit, as a driver killed mid-sweep would not have committed them.
      for (int i = 0; i < units.size(); i += 2) {
        Files.delete(units.get(i));
      }
      int kept = units.size() / 2;

      SweepResult resumed = SensitivitySweep.run(spark, data, spec, conf,
          Checkpoint.of(output, Checkpoint.Mode.RESUME, new Configuration(), console::add), fingerprint);
      assertSame(uninterrupted, resumed, tensors.size());
      assertEquals(List.of("lopper: sweep: " + kept + " of " + units.size() + " units reused from the checkpoint "
          + Checkpoint.pathOf(output) + "/sweep, " + (units.size() - kept) + " to compute"), console);
      assertEquals(new SweepResult.Units(units.size(), kept), resumed.units());
      assertEquals(units.size(), units().size(), "the computed units are committed too");
    } finally {
      data.release();
    }
  }

  private static void assertSame(SweepResult expected, SweepResult actual, int items) {
    assertEquals(expected.baseline(), actual.baseline(), "baseline");
    for (int t = 0; t < items; t++) {
      for (int s = 0; s < GRID.length; s++) {
        assertEquals(expected.variant(t, s), actual.variant(t, s), "item " + t + " at " + GRID[s]);
      }
    }
  }

  private List<Path> units() throws IOException {
    try (Stream<Path> files = Files.list(dir.resolve("runs/x.checkpoint/sweep"))) {
      return files.filter(p -> p.getFileName().toString().startsWith("unit-")).sorted().toList();
    }
  }
}
