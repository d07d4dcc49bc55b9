package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.cli.Lopper;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory estimate of a model and the refusal of a configuration whose JVMs cannot hold it. */
class MemoryCheckTest {
  private static final long MIB = 1L << 20;

  @TempDir Path dir;

  /**
   * The tiny LM's figures against its safetensors header, read here with Jackson: W every float, L the
   * largest Linear weight (256 x 64), A a row of 64 positions (its position table's rows) times the
   * vocabulary of 256 logits.
   */
  @Test
  void estimatesTheTinyLanguageModelFromItsWeightsAndPositionTable() throws IOException {
    long floats = 0;
    long largest = 0;
    try (InputStream in = Files.newInputStream(Path.of(SampleData.path("tiny-lm.safetensors")))) {
      long length = ByteBuffer.wrap(in.readNBytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
      JsonNode header = new ObjectMapper().readTree(in.readNBytes((int) length));
      for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getKey().equals("__metadata__")) {
          long n = 1;
          for (JsonNode d : e.getValue().get("shape")) {
            n *= d.asLong();
          }
          floats += n;
          largest = e.getValue().get("shape").size() == 2 ? Math.max(largest, n) : largest;
        }
      }
    }
    OnnxModel model = OnnxModel.load(new ModelSource(SampleData.path("tiny-lm.onnx"),
        SampleData.path("tiny-lm.safetensors")), new Configuration());
    MemoryEstimate e = MemoryEstimate.of(model, PrunableTensors.find(model), true, new long[0], 16, 256 * MIB,
        List.of());
    assertEquals(floats * 4, e.weightBytes(), "W");
    assertEquals(largest * 4, e.largestTensorBytes(), "L");
    assertEquals(64, MemoryEstimate.positions(model), "positions: pos_emb's rows");
    assertEquals(64 * 256 * 4, e.rowActivationBytes(), "A");
    long task = 256 * MIB + 3 * 16 * 64 * 256 * 4 + 2 * largest * 4;
    assertEquals(task, e.taskBytes(), "T");
    assertEquals(450 * MIB + 2 * floats * 4 + 2 * task, e.executorBytes(2), "E");
    assertEquals(450 * MIB, e.executorHeapBytes(2), "Eh: Spark's minimum");
    assertEquals(500 * MIB + 2 * floats * 4 + 2 * largest * 4 + 2 * task, e.driverBytes(2), "D, local[2]");
  }

  /**
   * The digits CNN's largest activation is the largest value shape inference finds for one row,
   * weights aside (its fc1 weight, 32 x 256 floats, is larger than any activation): the widest
   * convolution's output, its output channels over the 8 x 8 image (padding keeps the size).
   */
  @Test
  void takesAFeatureModelsLargestActivationFromShapeInference() {
    OnnxModel model = OnnxModel.load(new ModelSource(SampleData.path("digits-cnn.onnx"),
        SampleData.path("digits-cnn.safetensors")), new Configuration());
    long channels = model.weights().values().stream().filter(w -> w.shape().length == 4)
        .mapToLong(w -> w.shape()[0]).max().orElseThrow();
    assertEquals(channels * 8 * 8 * 4, MemoryEstimate.rowActivationBytes(model, false, new long[] {1, 8, 8}));
  }

  @Test
  void readsWhatExecutorsAndTheDriverGetFromSparkSettings() {
    Map<String, String> conf = Map.of("spark.executor.memory", "768m", "spark.executor.cores", "2");
    MemoryCheck.Budget b = MemoryCheck.Budget.of("spark://h:7077", conf::get, 1024 * MIB);
    assertEquals(768 * MIB, b.executorHeap());
    assertEquals((768 + 384) * MIB, b.executorTotal(), "the least overhead, 384 MiB");
    assertEquals(2, b.executorTasks());
    assertEquals((1024 + 384) * MIB, b.driverTotal());
    assertEquals(0, b.localTasks());

    Map<String, String> big = Map.of("spark.executor.memory", "8g", "spark.executor.cores", "4", "spark.task.cpus", "2",
        "spark.memory.offHeap.enabled", "true", "spark.memory.offHeap.size", "1g");
    MemoryCheck.Budget c = MemoryCheck.Budget.of("yarn", big::get, 1024 * MIB);
    assertEquals(8192 * MIB + (long) (0.10 * 8192 * MIB) + 1024 * MIB, c.executorTotal(), "10% overhead, off-heap");
    assertEquals(2, c.executorTasks(), "4 cores, 2 per task");

    Map<String, String> wrong = Map.of("spark.executor.cores", "two");
    assertEquals("spark.executor.cores: expected a whole number, found 'two'", assertThrows(InvalidInputException.class,
        () -> MemoryCheck.Budget.of("yarn", wrong::get, 1024 * MIB)).getMessage());

    MemoryCheck.Budget local = MemoryCheck.Budget.of("local[3]", Map.<String, String>of()::get, 1024 * MIB);
    assertEquals(3, local.localTasks());
    assertTrue(!local.executorsOfTheirOwn());
  }

  /** The refusal names who needs what, term by term, what it gets and from which settings, and what to change. */
  @Test
  void refusesAnExecutorThatCannotHoldTheRunWithTheFiguresAndTheSetting() {
    MemoryEstimate e = new MemoryEstimate(1024 * MIB, 64 * MIB, MIB, 16, 256 * MIB, 0);
    Map<String, String> conf = Map.of("spark.executor.memory", "1g", "spark.executor.cores", "2");
    InvalidInputException refused = assertThrows(InvalidInputException.class,
        () -> MemoryCheck.check(e, MemoryCheck.Budget.of("spark://h:7077", conf::get, 4096 * MIB)));
    // E = 450 + 2 x 1024 + 2 x (256 + 3 x 16 x 1 + 2 x 64) = 3362 MiB against 1024 + 384.
    assertEquals("memory: an executor needs about 3.3 GiB (450.0 MiB base + 2 x weights 1.0 GiB + 2 tasks x 432.0 MiB"
        + " (held activations 256.0 MiB + 3 x 16 rows x largest activation 1.0 MiB a row + 2 x largest tensor"
        + " 64.0 MiB)) but gets 1.4 GiB (spark.executor.memory + spark.executor.memoryOverhead); raise"
        + " spark.executor.memoryOverhead (ONNX Runtime's memory is native) or spark.executor.memory, or lower"
        + " spark.executor.cores or data.batch-size (estimate: docs/cluster.md, \"Memory checked before the run\")",
        refused.getMessage());

    Map<String, String> small = Map.of("spark.executor.memory", "400m");
    InvalidInputException heap = assertThrows(InvalidInputException.class, () -> MemoryCheck.check(
        new MemoryEstimate(MIB, MIB, 1024, 16, 0, 0), MemoryCheck.Budget.of("spark://h:7077", small::get, 4096 * MIB)));
    assertTrue(heap.getMessage().startsWith("memory: an executor's heap needs about 450.0 MiB"), heap.getMessage());
    assertTrue(heap.getMessage().contains("but gets 400.0 MiB (spark.executor.memory)"), heap.getMessage());

    Map<String, String> enough = Map.of("spark.executor.memory", "3g", "spark.executor.memoryOverhead", "1g",
        "spark.executor.cores", "2");
    MemoryCheck.check(e, MemoryCheck.Budget.of("spark://h:7077", enough::get, 4096 * MIB));
  }

  /**
   * The command line refuses an executor memory under Spark's minimum with exit 2 and one line, before the
   * run directory exists and before Spark has a session: the check runs with the model's inspection, and the
   * master here is one nothing listens on (so no task could run; its unreachability is never reported).
   */
  @Test
  void commandLineRefusesATooSmallExecutorBeforeSparkRuns() {
    Path out = dir.resolve("out");
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    ExitCode exit = Lopper.run(new String[] {"sensitivity", "--config", SampleData.dir().getParent()
        .resolve("conf/tiny-lm.yaml").toString(), "--set", "model.onnx=" + SampleData.path("tiny-lm.onnx"),
        "--set", "model.weights=" + SampleData.path("tiny-lm.safetensors"),
        "--set", "data.path=" + SampleData.path("tiny-lm-val.parquet"), "--set", "output.dir=" + out,
        "--master", "spark://127.0.0.1:9", "--set", "spark.conf.spark.executor.memory=400m"}, new Pipeline(),
        new PrintStream(stdout, true, StandardCharsets.UTF_8), new PrintStream(stderr, true, StandardCharsets.UTF_8));
    RunLopper run = new RunLopper(exit, stdout.toString(StandardCharsets.UTF_8), stderr.toString(StandardCharsets.UTF_8));
    run.assertRefused(out, "memory: an executor's heap needs about 450.0 MiB", "gets 400.0 MiB (spark.executor.memory)");
  }
}
