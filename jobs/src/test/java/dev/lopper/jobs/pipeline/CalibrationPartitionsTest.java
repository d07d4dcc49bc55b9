package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.cli.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.storage.RDDInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A calibrated prune writes the same bytes whatever the partitioning: {@code
 * calibration/statistics.safetensors}, {@code masks.safetensors} and {@code model/pruned.safetensors}
 * of {@code data.partitions} 1, 3 and 8 (1, 3 and 8 calibration tasks) are identical, and identical
 * to those of a run whose calibration data is the same rows in row groups of {@value #ROWS_PER_GROUP}
 * read in splits of 1 KB, so that the calibration rows arrive in several data partitions and chunks
 * of {@value #CHUNK_ROWS} rows straddle their boundaries (the calibration file is otherwise read in
 * the file's own splits, one partition for the sample files, whatever {@code data.partitions} says).
 * A listener on the run's Spark context counts the calibration tasks and the calibration data's
 * partitions, so that each run is known to have been cut as intended. (Putting a straddling chunk's
 * pieces back together in the wrong order changes the statistics from their first bytes on, and only
 * the last run notices.)
 */
class CalibrationPartitionsTest {
  private static final int ROWS = 48;
  private static final int CHUNK_ROWS = 5;
  private static final int ROWS_PER_GROUP = 13;
  private static final int[] PARTITIONS = {1, 3, 8};
  /** The outputs that must not depend on the partitioning. */
  static final List<String> OUTPUTS = List.of("calibration/statistics.safetensors", "masks.safetensors",
      "model/pruned.safetensors");

  @TempDir Path dir;

  @Test
  void sparseGptSequentialOnTheTinyLmIsTheSameForAnyPartitioning() throws IOException {
    assertSameForAnyPartitioning("tiny-lm", "tiny-lm-val.parquet", "sparsegpt", "50", true);
  }

  @Test
  void wanda2of4OnTheCnnIsTheSameForAnyPartitioning() throws IOException {
    assertSameForAnyPartitioning("digits-cnn", "digits-val.parquet", "wanda", "2of4", false);
  }

  /**
   * Structured: channel-fluctuation's channels and bias compensation read the calibration
   * statistics (not written by a structured run), so the kept channels, the compensated biases and
   * the sweep of compensated groups must come out bit for bit the same for 1, 3 and 8 calibration
   * tasks.
   */
  @Test
  void channelFluctuationWithCompensationOnTheCnnIsTheSameForAnyPartitioning() throws IOException {
    Map<String, Path> runs = new LinkedHashMap<>();
    int chunks = (ROWS + CHUNK_ROWS - 1) / CHUNK_ROWS;
    for (int partitions : PARTITIONS) {
      Path out = dir.resolve("structured-" + partitions);
      Observed observed = run("prune", "--model", SampleData.path("digits-cnn.onnx"), "--data",
          SampleData.path("digits-val.parquet"), "--metric", "accuracy", "--out", out.toString(),
          "--set", "sweep.criterion=channel-fluctuation", "--set", "sweep.sparsities=[0.25,0.5,0.75]",
          "--set", "allocation.target=0.5", "--set", "gate.max-drop=null",
          "--set", "data.partitions=" + partitions);
      int tasks = Math.min(partitions, chunks);
      List<Integer> perPass = observed.calibrationTasks();
      assertTrue(!perPass.isEmpty() && perPass.stream().allMatch(n -> n == tasks),
          "calibration tasks with data.partitions=" + partitions + ": " + perPass);
      runs.put("data.partitions=" + partitions, out);
    }
    assertSameFiles(runs, List.of("compensation.safetensors", "masks.safetensors", "model/pruned.safetensors",
        "sensitivity.csv"));
  }

  private void assertSameForAnyPartitioning(String model, String data, String method, String pattern,
      boolean sequential) throws IOException {
    Map<String, Path> runs = new LinkedHashMap<>();
    int chunks = (ROWS + CHUNK_ROWS - 1) / CHUNK_ROWS;
    for (int partitions : PARTITIONS) {
      Path out = dir.resolve(model + "-" + partitions);
      Observed observed = run(ActivationAwarePruneTest.args(model, method, pattern, String.valueOf(sequential), out,
          partitions));
      int tasks = Math.min(partitions, chunks);
      List<Integer> perPass = observed.calibrationTasks();
      assertTrue(!perPass.isEmpty() && perPass.stream().allMatch(n -> n == tasks),
          "calibration tasks of each pass with data.partitions=" + partitions + ": " + perPass);
      runs.put("data.partitions=" + partitions, out);
    }

    Path split = dir.resolve(model + "-row-groups.parquet");
    int groups = copyInRowGroups(Path.of(SampleData.path(data)), split, ROWS_PER_GROUP);
    Path out = dir.resolve(model + "-split");
    List<String> args = new ArrayList<>(List.of(ActivationAwarePruneTest.args(model, method, pattern,
        String.valueOf(sequential), out, 3)));
    args.addAll(List.of("--set", "calibration.data=" + split,
        "--set", "spark.conf.spark.sql.files.maxPartitionBytes=1024"));
    Observed observed = run(args.toArray(String[]::new));
    int dataPartitions = observed.partitionsOf(split.toString());
    assertTrue(dataPartitions >= (ROWS + ROWS_PER_GROUP - 1) / ROWS_PER_GROUP,
        "the calibration data of " + groups + " row groups was read in " + dataPartitions + " partitions");
    runs.put("calibration data in " + dataPartitions + " partitions", out);

    assertSameFiles(runs);
  }

  /** Asserts that every run of {@code runs} (description to run directory) wrote the same {@link #OUTPUTS}. */
  static void assertSameFiles(Map<String, Path> runs) throws IOException {
    assertSameFiles(runs, OUTPUTS);
  }

  /** Asserts that every run of {@code runs} wrote the same {@code files}. */
  static void assertSameFiles(Map<String, Path> runs, List<String> files) throws IOException {
    Map.Entry<String, Path> first = runs.entrySet().iterator().next();
    for (String file : files) {
      byte[] expected = payload(first.getValue().resolve(file));
      for (Map.Entry<String, Path> run : runs.entrySet()) {
        byte[] actual = payload(run.getValue().resolve(file));
        long at = Arrays.mismatch(expected, actual);
        if (at >= 0) {
          fail(file + " of the run with " + run.getKey() + " (" + actual.length + " bytes) differs from that of "
              + first.getKey() + " (" + expected.length + " bytes) from byte " + at);
        }
      }
    }
  }

  /**
   * A file's bytes; for the statistics, without the header's fingerprint, which names the calibration
   * file's SHA-256 (another file for the run reading the rows in row groups of their own): every
   * tensor's name, dtype, shape and bytes, in order.
   */
  private static byte[] payload(Path file) throws IOException {
    if (!file.endsWith("statistics.safetensors")) {
      return Files.readAllBytes(file);
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    dev.lopper.io.Safetensors.File f = dev.lopper.io.Safetensors.open(file.toString(),
        new org.apache.hadoop.conf.Configuration());
    for (dev.lopper.io.Safetensors.Entry e : f.entries().values()) {
      out.write((e.name() + " " + e.dtype() + " " + Arrays.toString(e.shape()) + "\n").getBytes(
          java.nio.charset.StandardCharsets.UTF_8));
      java.nio.ByteBuffer bytes = f.readBytes(e);
      byte[] b = new byte[bytes.remaining()];
      bytes.get(b);
      out.write(b);
    }
    return out.toByteArray();
  }

  /** What one run's Spark context showed: the tasks of each calibration pass, partitions of named RDDs. */
  private record Observed(List<Integer> calibrationTasks, Map<String, Integer> partitions) {
    int partitionsOf(String path) {
      return partitions.entrySet().stream().filter(e -> e.getKey().endsWith(" " + path)).mapToInt(Map.Entry::getValue)
          .findFirst().orElseThrow(() -> new AssertionError("no RDD read " + path + ": " + partitions.keySet()));
    }
  }

  private static Observed run(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--set", "calibration.rows=" + ROWS, "--set", "data.batch-size=" + CHUNK_ROWS,
        "--set", "spark.conf.spark.extraListeners=" + Stages.class.getName()));
    Stages.RDDS.clear();
    Stages.CALIBRATION_TASKS.clear();
    RunLopper run = RunLopper.run(all.toArray(String[]::new));
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    return new Observed(List.copyOf(Stages.CALIBRATION_TASKS), Map.copyOf(Stages.RDDS));
  }

  /**
   * Copies a Parquet file with Parquet's own example writer, {@code rowsPerGroup} rows per row group.
   *
   * @return the number of row groups written
   */
  static int copyInRowGroups(Path from, Path to, int rowsPerGroup) throws IOException {
    Configuration conf = new Configuration();
    org.apache.hadoop.fs.Path source = new org.apache.hadoop.fs.Path(from.toString());
    MessageType schema;
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(source, conf))) {
      schema = reader.getFooter().getFileMetaData().getSchema();
    }
    // A row group is closed at the first size check past 1 byte: checks every rowsPerGroup rows.
    // (Parquet warns of "too much memory used" for each such row group: not of interest here.)
    org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.parquet.hadoop.InternalParquetRecordWriter",
        org.apache.logging.log4j.Level.ERROR);
    try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(), source).withConf(conf).build();
        ParquetWriter<Group> writer = ExampleParquetWriter.builder(
                HadoopOutputFile.fromPath(new org.apache.hadoop.fs.Path(to.toString()), conf))
            .withConf(conf).withType(schema).withRowGroupSize(1L)
            .withMinRowCountForPageSizeCheck(rowsPerGroup).withMaxRowCountForPageSizeCheck(rowsPerGroup).build()) {
      for (Group row = reader.read(); row != null; row = reader.read()) {
        writer.write(row);
      }
    }
    try (ParquetFileReader reader = ParquetFileReader.open(
        HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(to.toString()), conf))) {
      List<BlockMetaData> blocks = reader.getFooter().getBlocks();
      for (int i = 0; i < blocks.size() - 1; i++) {
        assertEquals(rowsPerGroup, blocks.get(i).getRowCount(), to + ": rows of row group " + i);
      }
      return blocks.size();
    }
  }

  /**
   * Registered as {@code spark.extraListeners} of a run: the partitions of every named RDD of a
   * submitted stage, and the tasks of each calibration pass (the stage of RDD "calibration of …").
   */
  public static final class Stages extends SparkListener {
    static final Map<String, Integer> RDDS = new ConcurrentHashMap<>();
    static final List<Integer> CALIBRATION_TASKS = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
      scala.collection.Iterator<RDDInfo> it = submitted.stageInfo().rddInfos().iterator();
      while (it.hasNext()) {
        RDDInfo rdd = it.next();
        if (rdd.name() != null) {
          RDDS.put(rdd.name(), rdd.numPartitions());
        }
      }
      if (submitted.stageInfo().rddInfos().exists(r -> r.name() != null && r.name().startsWith("calibration of "))) {
        CALIBRATION_TASKS.add(submitted.stageInfo().numTasks());
      }
    }
  }
}
