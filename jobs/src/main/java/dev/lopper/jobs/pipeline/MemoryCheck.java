package dev.lopper.jobs.pipeline;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.ConsumerInput;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.eval.TensorSweep;
import dev.lopper.jobs.config.LopperConfig;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.apache.spark.network.util.JavaUtils;

/**
 * The memory a run's JVMs get, compared with what its model needs ({@link MemoryEstimate}) before Spark
 * runs any task: a configuration that cannot fit is refused with the figures and the setting to change
 * (exit 2), instead of ending hours later in an out-of-memory kill.
 *
 * <p>What a JVM gets, from {@code spark.conf}, else spark-submit's settings (system properties), else
 * Spark's defaults:
 *
 * <ul>
 *   <li><b>executors</b> (any master but local mode): the heap {@code spark.executor.memory} (1g), and in
 *       all {@code spark.executor.memory} + {@code spark.executor.memoryOverhead} (at least 384 MiB,
 *       else {@code spark.executor.memoryOverheadFactor} 0.10 of the heap) + {@code
 *       spark.memory.offHeap.size} when enabled: what YARN and Kubernetes give the container and kill it
 *       beyond. A standalone worker enforces no such limit, but the same allowance is checked there so a
 *       run that passes on one cluster manager passes on the others. Tasks at once: {@code
 *       spark.executor.cores} / {@code spark.task.cpus} (1 when the cores are unset: on standalone an
 *       executor then takes all of a worker's cores, which the driver cannot know before it starts);
 *   <li><b>the driver</b>: this JVM's heap ({@link Runtime#maxMemory()}: what {@code spark.driver.memory}
 *       or {@code LOPPER_JAVA_OPTS=-Xmx...} made it; a setting in {@code spark.conf} cannot resize a
 *       running JVM), and in all that + {@code spark.driver.memoryOverhead} (same default rule); in local
 *       mode it also runs the tasks, {@code local[N]} of them at once.
 * </ul>
 */
final class MemoryCheck {
  /** Spark's least overhead, {@code MEMORY_OVERHEAD_MIN}. */
  static final long MIN_OVERHEAD = 384L << 20;
  static final double OVERHEAD_FACTOR = 0.10;

  /**
   * What the run's JVMs get.
   *
   * @param executorsOfTheirOwn false in local mode, where the driver runs the tasks
   * @param executorHeap an executor's {@code -Xmx}
   * @param executorTotal its heap, overhead and Spark off-heap memory together
   * @param executorTasks tasks an executor runs at once
   * @param driverHeap the driver JVM's heap
   * @param driverTotal its heap and overhead together
   * @param localTasks tasks the driver runs at once in local mode (0 otherwise)
   */
  record Budget(boolean executorsOfTheirOwn, long executorHeap, long executorTotal, int executorTasks,
      long driverHeap, long driverTotal, int localTasks) {

    /** The budget of a run of {@code master}, its settings looked up by {@code setting} (null when unset). */
    static Budget of(String master, UnaryOperator<String> setting, long driverHeap) {
      boolean own = !(master.equals("local") || master.startsWith("local["));
      long executorHeap = bytes(setting, "spark.executor.memory", 1L << 30);
      long executorTotal = executorHeap + overhead(setting, "spark.executor", executorHeap)
          + (Boolean.parseBoolean(setting.apply("spark.memory.offHeap.enabled"))
              ? bytes(setting, "spark.memory.offHeap.size", 0) : 0);
      int taskCpus = Math.max(1, count(setting, "spark.task.cpus"));
      int executorTasks = Math.max(1, count(setting, "spark.executor.cores") / taskCpus);
      long driverTotal = driverHeap + overhead(setting, "spark.driver", driverHeap);
      return new Budget(own, executorHeap, executorTotal, executorTasks, driverHeap, driverTotal,
          own ? 0 : localTasks(master));
    }

    /** Tasks at once in local mode: {@code local} 1, {@code local[N]} N, {@code local[*]} the processors. */
    static int localTasks(String master) {
      if (!master.startsWith("local[")) {
        return 1;
      }
      String n = master.substring("local[".length(), master.indexOf(']')).split(",")[0].strip();
      return n.equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(n);
    }

    private static long overhead(UnaryOperator<String> setting, String prefix, long heap) {
      if (setting.apply(prefix + ".memoryOverhead") != null) {
        return bytes(setting, prefix + ".memoryOverhead", 0);
      }
      double factor = Double.parseDouble(orElse(setting.apply(prefix + ".memoryOverheadFactor"),
          String.valueOf(OVERHEAD_FACTOR)));
      return Math.max(MIN_OVERHEAD, (long) (factor * heap));
    }

    /** A count setting, 1 when unset. */
    private static int count(UnaryOperator<String> setting, String name) {
      String value = setting.apply(name);
      try {
        return value == null ? 1 : Integer.parseInt(value.strip());
      } catch (NumberFormatException e) {
        throw new InvalidInputException(name + ": expected a whole number, found '" + value + "'");
      }
    }

    /** A Spark memory setting ({@code 768m}, {@code 4g}; a bare number is MiB) in bytes. */
    private static long bytes(UnaryOperator<String> setting, String name, long unset) {
      String value = setting.apply(name);
      try {
        return value == null ? unset : JavaUtils.byteStringAsMb(value) << 20;
      } catch (RuntimeException e) {
        throw new InvalidInputException(name + ": expected a memory size such as 768m or 4g, found '" + value + "'", e);
      }
    }

    private static String orElse(String value, String unset) {
      return value == null ? unset : value;
    }
  }

  private MemoryCheck() {}

  /**
   * Refuses {@code config} on {@code model} when its estimate does not fit the budget of the run's master
   * ({@code spark-submit}'s, else {@code spark.master}, else {@code local[*]}).
   *
   * @throws InvalidInputException with the estimate term by term, what the JVM gets and what to change
   */
  static void check(LopperConfig config, InspectedModel model) {
    Map<String, String> conf = config.spark().conf();
    // The master as SparkSessions.master chooses it: spark-submit's, else spark.master, else local[*].
    String master = System.getProperty("spark.master",
        config.spark().master() != null ? config.spark().master() : "local[*]");
    UnaryOperator<String> setting = name -> conf.containsKey(name) ? conf.get(name) : System.getProperty(name);
    check(estimate(config, model), Budget.of(master, setting, Runtime.getRuntime().maxMemory()));
  }

  /** The estimate for {@code config} on {@code model}. */
  static MemoryEstimate estimate(LopperConfig config, InspectedModel model) {
    List<ConsumerInput> grams = CalibratedPruning.applies(config) && config.sweep().criterion().equals("sparsegpt")
        ? ConsumerInputs.of(model.model(), model.tensors()).inputs() : List.of();
    return MemoryEstimate.of(model.model(), model.tensors(), model.inputs().sequences(), model.rowShape(),
        config.data().batchSize(), TensorSweep.Options.DEFAULT_ACTIVATION_BYTES, grams);
  }

  /** Refuses {@code estimate} when it does not fit {@code budget}. */
  static void check(MemoryEstimate estimate, Budget budget) {
    if (budget.executorsOfTheirOwn()) {
      int tasks = budget.executorTasks();
      long heap = estimate.executorHeapBytes(tasks);
      if (heap > budget.executorHeap()) {
        throw refused("an executor's heap", heap, "Spark's reserved " + MemoryEstimate.bytes(MemoryEstimate.SPARK_RESERVED)
            + " + " + tasks + " tasks' tensor copies and batch rows, at least Spark's minimum "
            + MemoryEstimate.bytes(MemoryEstimate.SPARK_MINIMUM_HEAP), budget.executorHeap(), "spark.executor.memory",
            "raise spark.executor.memory, or lower spark.executor.cores or data.batch-size");
      }
      long total = estimate.executorBytes(tasks);
      if (total > budget.executorTotal()) {
        throw refused("an executor", total, estimate.describeExecutor(tasks), budget.executorTotal(),
            "spark.executor.memory + spark.executor.memoryOverhead",
            "raise spark.executor.memoryOverhead (ONNX Runtime's memory is native) or spark.executor.memory, or lower"
                + " spark.executor.cores or data.batch-size");
      }
    }
    int local = budget.localTasks();
    long heap = estimate.driverHeapBytes(local);
    if (heap > budget.driverHeap()) {
      throw refused("the driver's heap", heap, "Spark's reserved " + MemoryEstimate.bytes(MemoryEstimate.SPARK_RESERVED)
          + " + tensor copies" + (local > 0 ? " + " + local + " local tasks' tensor copies and batch rows" : "")
          + ", at least Spark's minimum " + MemoryEstimate.bytes(MemoryEstimate.SPARK_MINIMUM_HEAP),
          budget.driverHeap(), "the driver JVM's -Xmx", driverAdvice(local));
    }
    long total = estimate.driverBytes(local);
    if (total > budget.driverTotal()) {
      throw refused("the driver", total, estimate.describeDriver(local), budget.driverTotal(),
          "the driver JVM's -Xmx + spark.driver.memoryOverhead", driverAdvice(local));
    }
  }

  private static String driverAdvice(int local) {
    return "raise spark.driver.memory (spark-submit --driver-memory; LOPPER_JAVA_OPTS=-Xmx... for bin/lopper)"
        + (local > 0 ? ", or run fewer local tasks (spark.master local[N]) or lower data.batch-size" : "");
  }

  private static InvalidInputException refused(String who, long need, String terms, long gets, String setting,
      String advice) {
    return new InvalidInputException(String.format(Locale.ROOT, "memory: %s needs about %s (%s) but gets %s (%s);"
        + " %s (estimate: docs/cluster.md, \"Memory checked before the run\")", who, MemoryEstimate.bytes(need),
        terms, MemoryEstimate.bytes(gets), setting, advice));
  }
}
