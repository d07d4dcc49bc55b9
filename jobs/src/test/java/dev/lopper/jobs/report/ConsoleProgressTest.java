package dev.lopper.jobs.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.jobs.spark.LocalSpark;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/** The listener on a real local Spark context: jobs in Lopper's job groups print plain progress lines. */
class ConsoleProgressTest {

  @Test
  void countsTheTasksOfAGroupedJobAndOfUngroupedOnesUnderTheRunStage() throws InterruptedException {
    SparkSession spark = LocalSpark.start(2);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    try {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      ConsoleProgress progress = ConsoleProgress.attach(spark.sparkContext(), err, false, 30_000, () -> "data");
      jsc.parallelize(IntStream.range(0, 3).boxed().toList(), 3).count();
      jsc.setJobGroup("lopper-sweep", "test sweep", true);
      jsc.parallelize(IntStream.range(0, 20).boxed().toList(), 20).map(i -> i * 2).collect();
      jsc.clearJobGroup();
      // The listener bus delivers events asynchronously: wait for the last line.
      long deadline = System.currentTimeMillis() + 20_000;
      while (!bytes.toString(StandardCharsets.UTF_8).contains("sweep 20/20")
          && System.currentTimeMillis() < deadline) {
        Thread.sleep(50);
      }
      progress.detach();
    } finally {
      spark.stop();
    }
    List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("lopper: data 3/3 tasks (100%), ")), lines.toString());
    List<String> sweep = lines.stream().filter(l -> l.startsWith("lopper: sweep ")).toList();
    assertEquals(10, sweep.size(), "a line per tenth of the 20 tasks: " + lines);
    assertTrue(sweep.get(0).startsWith("lopper: sweep 2/20 tasks (10%), "), sweep.get(0));
    assertTrue(sweep.get(9).startsWith("lopper: sweep 20/20 tasks (100%), "), sweep.get(9));
  }
}
