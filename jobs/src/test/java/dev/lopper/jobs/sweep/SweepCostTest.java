package dev.lopper.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.LocalSpark;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.executor.TaskMetrics;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cost model's claim (docs/design.md, "Cost model"): the sweep shuffles nothing and what its tasks
 * send to the driver does not grow with the number of samples — one tally per variant and data slice,
 * and the slices are fewer than twice the cores plus the non-empty data partitions. Measured by
 * Spark's own task metrics on the validation set repeated 4 and 16 times.
 */
class SweepCostTest {
  private static final double[] GRID = {0.1, 0.3, 0.5, 0.7, 0.9};
  private static final int PARTITIONS = 3;
  private static SparkSession spark;
  private static Broadcast<SerializableConfiguration> conf;
  @TempDir static Path dir;

  /** Shuffle bytes written and read, and serialized task-result bytes, of every task that ends. */
  static final class Volume extends SparkListener {
    final AtomicLong shuffleWritten = new AtomicLong();
    final AtomicLong shuffleRead = new AtomicLong();
    final AtomicLong results = new AtomicLong();
    final AtomicLong tasks = new AtomicLong();

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
      TaskMetrics m = end.taskMetrics();
      if (m != null) {
        shuffleWritten.addAndGet(m.shuffleWriteMetrics().bytesWritten());
        shuffleRead.addAndGet(m.shuffleReadMetrics().totalBytesRead());
        results.addAndGet(m.resultSize());
        tasks.incrementAndGet();
      }
    }
  }

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

  /** The validation set with every row repeated {@code times} times. */
  private static String repeated(int times) {
    Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
    Table.Builder table = Table.builder();
    val.columns().forEach(c -> table.column(c.name(), c.type()));
    for (int k = 0; k < times; k++) {
      for (List<Object> row : val.rows()) {
        table.row(row.toArray());
      }
    }
    String path = dir.resolve("val-x" + times + ".parquet").toString();
    ParquetTables.write(table.build(), path, new Configuration());
    return path;
  }

  /** The sweep's volume on {@code path}, counted from after the data is decoded to the merged result. */
  private static Volume sweepVolume(String path, long expectedRows) throws Exception {
    OnnxModel mlp = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-mlp.onnx")), new Configuration());
    SweepSpec spec = new SweepSpec(mlp.source(), mlp.checksum(), PrunableTensors.find(mlp), "magnitude", GRID,
        64, 1, 0, 10);
    ValidationData data = ValidationData.load(spark,
        new ValidationData.Spec(path, "features", "label", new long[] {64}, PARTITIONS), 10);
    assertEquals(expectedRows, data.rows());
    Volume volume = new Volume();
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.sparkContext().addSparkListener(volume);
    try {
      SweepResult result = SensitivitySweep.run(spark, data, spec, conf);
      assertEquals(expectedRows, result.baseline().samples());
    } finally {
      spark.sparkContext().listenerBus().waitUntilEmpty();
      spark.sparkContext().removeSparkListener(volume);
      data.release();
    }
    return volume;
  }

  @Test
  void shuffleAndCollectedBytesDoNotGrowWithTheNumberOfSamples() throws Exception {
    Volume once = sweepVolume(repeated(4), 4 * 360);
    Volume four = sweepVolume(repeated(16), 16 * 360);

    assertEquals(once.tasks.get(), four.tasks.get(), "same units");
    assertTrue(once.tasks.get() > 0, "the listener saw the sweep's tasks");
    assertEquals(0, once.shuffleWritten.get(), "no shuffle write");
    assertEquals(0, once.shuffleRead.get(), "no shuffle read");
    assertEquals(0, four.shuffleWritten.get(), "no shuffle write on 4x more rows");
    assertEquals(0, four.shuffleRead.get(), "no shuffle read on 4x more rows");
    assertTrue(once.results.get() > 0, "the tasks sent their tallies");
    // Tallies hold counts and exact sums: a count or sum four times larger may take a few more bytes
    // in a serialized integer, never bytes per sample (the data itself is 16 x 360 x 64 x 4 = 1.5 MB).
    long grown = four.results.get() - once.results.get();
    assertTrue(Math.abs(grown) <= 0.02 * once.results.get(),
        "collected " + once.results.get() + " bytes for 1440 rows and " + four.results.get() + " for 5760");
  }
}
