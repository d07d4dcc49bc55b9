package dev.lopper.jobs.pipeline;

import dev.lopper.calibration.ConsumerInput;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ShapeInference;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * What a run holds in memory, estimated from the model before any data is read: the bytes an executor
 * JVM and the driver JVM need, so that a configuration that cannot fit is refused before Spark runs a task.
 *
 * <pre>{@code
 * MemoryEstimate e = MemoryEstimate.of(model, tensors, false, new long[] {1, 8, 8}, 16,
 *     TensorSweep.Options.DEFAULT_ACTIVATION_BYTES, List.of());
 * long executor = e.executorBytes(2);       // an executor JVM running 2 tasks at once
 * long heap = e.executorHeapBytes(2);       // the part of it on the Java heap
 * long driver = e.driverBytes(0);           // a driver whose tasks run elsewhere
 * }</pre>
 *
 * <p>The figures, with W the weights' bytes (every float initializer), L the largest prunable tensor's
 * bytes, A the bytes of the largest activation for one row, b the rows of a batch ({@code data.batch-size}),
 * H the bound on cut activations a sweep task holds for prefix reuse ({@code TensorSweep.Options
 * .activationBytes}, 256 MiB by default), G the calibration statistics held (every consumer input's
 * Gram matrix, cols² × 8 bytes, for sparsegpt; 0 otherwise) and c the tasks an executor runs at once:
 *
 * <pre>
 *   task            T  = H + LIVE_ACTIVATIONS × b × A + MASKED_COPIES × L + G
 *   executor        E  = EXECUTOR_BASE + WEIGHT_COPIES × W + c × T
 *   executor heap   Eh = max(SPARK_MINIMUM_HEAP, SPARK_RESERVED + c × (MASKED_COPIES × L + b × A))
 *   driver          D  = DRIVER_BASE + WEIGHT_COPIES × W + MASKED_COPIES × L + G  (+ c × T in local mode)
 *   driver heap     Dh = max(SPARK_MINIMUM_HEAP, SPARK_RESERVED + MASKED_COPIES × L (+ c × (MASKED_COPIES × L + b × A)))
 * </pre>
 *
 * <p>Where each term lives: the weights are direct buffers (Lopper's copy, read in place by the
 * sweep's suffix sessions) and ONNX Runtime copies the external initializers of a session it builds
 * (a task's dense pass) into native memory, hence two copies; cut activations and a batch's
 * activations are ONNX Runtime's native tensors; a tensor's masked copy is a direct buffer and the
 * grid's masks are Java bit sets, and a batch's decoded rows are Java arrays. So E counts heap and
 * native memory together, what a YARN or Kubernetes container limits; Eh is the part that must fit
 * {@code -Xmx}. The constants are the figures of today's code (measured in docs/cluster.md, "Memory
 * checked before the run"), held here so that they can be refined in one place.
 *
 * <p>Two bounds stand for figures known only after the data pass: H is the bound and not a task's
 * actual held activations (its rows are not known yet), and a sequence model's rows are taken at their
 * longest, the model's fixed length or its position table's rows ({@link #positions}).
 *
 * @param weightBytes W: bytes of every float initializer
 * @param largestTensorBytes L: bytes of the largest prunable tensor
 * @param rowActivationBytes A: bytes of the largest activation for one row
 * @param batchRows b: rows per forward pass
 * @param heldActivationBytes H: the bound on cut activations a sweep task holds
 * @param statisticsBytes G: calibration statistics held
 */
public record MemoryEstimate(long weightBytes, long largestTensorBytes, long rowActivationBytes, long batchRows,
    long heldActivationBytes, long statisticsBytes) {
  /** Spark's reserved heap ({@code RESERVED_SYSTEM_MEMORY_BYTES}). */
  public static final long SPARK_RESERVED = 300L << 20;
  /** The least heap Spark accepts, 1.5 times {@link #SPARK_RESERVED} (its INVALID_DRIVER_MEMORY/EXECUTOR_MEMORY). */
  public static final long SPARK_MINIMUM_HEAP = SPARK_RESERVED * 3 / 2;
  /**
   * An executor JVM before Lopper holds anything: Spark's reserved heap, the JVM's own (metaspace, code,
   * threads) and ONNX Runtime's and ND4J's native libraries and environment.
   */
  public static final long EXECUTOR_BASE = 450L << 20;
  /** The driver JVM before Lopper holds anything: as an executor, plus the Spark scheduler and the session. */
  public static final long DRIVER_BASE = 500L << 20;
  /**
   * Copies of the weights per JVM: Lopper's direct buffers and the copy ONNX Runtime makes of the
   * external initializers of a session it builds (a task's dense pass; the sweep's suffix sessions
   * read the weights as inputs and copy none).
   */
  public static final int WEIGHT_COPIES = 2;
  /** Activations of one batch alive at once in ONNX Runtime (a node's inputs and output, the logits copy). */
  public static final int LIVE_ACTIVATIONS = 3;
  /**
   * The largest tensor's bytes a task holds besides the weights: the variant's masked copy (one
   * buffer, rewritten where the next variant's mask differs) and the grid's masks (a bit per weight
   * and grid point).
   */
  public static final int MASKED_COPIES = 2;
  /** The positions assumed for a sequence model that states no length and has no position table. */
  public static final long DEFAULT_POSITIONS = 2048;

  public MemoryEstimate {
    if (weightBytes < 0 || largestTensorBytes < 0 || rowActivationBytes < 0 || batchRows < 1
        || heldActivationBytes < 0 || statisticsBytes < 0) {
      throw new IllegalArgumentException("received weightBytes=" + weightBytes + ", largestTensorBytes="
          + largestTensorBytes + ", rowActivationBytes=" + rowActivationBytes + ", batchRows=" + batchRows
          + ", heldActivationBytes=" + heldActivationBytes + ", statisticsBytes=" + statisticsBytes);
    }
  }

  /**
   * The estimate for a run on {@code model} that prunes {@code tensors}.
   *
   * @param sequences whether the model takes token sequences ({@code [batch, positions]} integer inputs)
   * @param rowShape one row's features shape for a model of float features (ignored for sequences)
   * @param batchRows rows per forward pass
   * @param heldActivationBytes the bound on cut activations a sweep task holds
   * @param gramInputs the consumer inputs whose Gram matrices calibration holds (empty unless sparsegpt)
   */
  public static MemoryEstimate of(OnnxModel model, List<PrunableTensor> tensors, boolean sequences, long[] rowShape,
      long batchRows, long heldActivationBytes, Collection<ConsumerInput> gramInputs) {
    long weights = 0;
    for (WeightTensor w : model.weights().values()) {
      weights += (long) w.size() * Float.BYTES;
    }
    long largest = 0;
    for (PrunableTensor t : tensors) {
      largest = Math.max(largest, WeightTensor.elementCount(t.shape()) * Float.BYTES);
    }
    long statistics = 0;
    Set<String> seen = new HashSet<>();
    for (ConsumerInput input : gramInputs) {
      if (seen.add(input.key())) {
        statistics += (long) input.dim() * input.dim() * Double.BYTES;
      }
    }
    return new MemoryEstimate(weights, largest, rowActivationBytes(model, sequences, rowShape), batchRows,
        heldActivationBytes, statistics);
  }

  /** T: what one running task holds. */
  public long taskBytes() {
    return heldActivationBytes + LIVE_ACTIVATIONS * batchRows * rowActivationBytes
        + MASKED_COPIES * largestTensorBytes + statisticsBytes;
  }

  /** E: an executor JVM that runs {@code tasks} tasks at once, heap and native memory together. */
  public long executorBytes(int tasks) {
    return EXECUTOR_BASE + WEIGHT_COPIES * weightBytes + tasks * taskBytes();
  }

  /**
   * Eh: the part of {@link #executorBytes} on the Java heap, at least {@link #SPARK_MINIMUM_HEAP} (below it
   * Spark's executors exit as they start).
   */
  public long executorHeapBytes(int tasks) {
    return Math.max(SPARK_MINIMUM_HEAP,
        SPARK_RESERVED + tasks * (MASKED_COPIES * largestTensorBytes + batchRows * rowActivationBytes));
  }

  /** D: the driver JVM, which also runs {@code localTasks} tasks at once in local mode (0 otherwise). */
  public long driverBytes(int localTasks) {
    return DRIVER_BASE + WEIGHT_COPIES * weightBytes + MASKED_COPIES * largestTensorBytes + statisticsBytes
        + localTasks * taskBytes();
  }

  /** The part of {@link #driverBytes} on the Java heap, at least {@link #SPARK_MINIMUM_HEAP}. */
  public long driverHeapBytes(int localTasks) {
    return Math.max(SPARK_MINIMUM_HEAP, SPARK_RESERVED + MASKED_COPIES * largestTensorBytes
        + localTasks * (MASKED_COPIES * largestTensorBytes + batchRows * rowActivationBytes));
  }

  /** {@link #executorBytes} term by term, for a person: {@code "450 MiB base + 2 x weights 1.0 MiB + ..."}. */
  public String describeExecutor(int tasks) {
    return bytes(EXECUTOR_BASE) + " base + " + WEIGHT_COPIES + " x weights " + bytes(weightBytes) + " + " + tasks
        + " tasks x " + bytes(taskBytes()) + " (" + describeTask() + ")";
  }

  /** {@link #driverBytes} term by term, for a person. */
  public String describeDriver(int localTasks) {
    return bytes(DRIVER_BASE) + " base + " + WEIGHT_COPIES + " x weights " + bytes(weightBytes) + " + "
        + MASKED_COPIES + " x largest tensor " + bytes(largestTensorBytes)
        + (statisticsBytes > 0 ? " + statistics " + bytes(statisticsBytes) : "")
        + (localTasks > 0 ? " + " + localTasks + " local tasks x " + bytes(taskBytes()) + " (" + describeTask() + ")"
            : "");
  }

  private String describeTask() {
    return "held activations " + bytes(heldActivationBytes) + " + " + LIVE_ACTIVATIONS + " x " + batchRows
        + " rows x largest activation " + bytes(rowActivationBytes) + " a row + " + MASKED_COPIES
        + " x largest tensor " + bytes(largestTensorBytes)
        + (statisticsBytes > 0 ? " + statistics " + bytes(statisticsBytes) : "");
  }

  /** Bytes for a person, in binary units with one decimal ({@code "1.5 GiB"}, {@code "384.0 MiB"}). */
  public static String bytes(long n) {
    if (n >= 1L << 30) {
      return String.format(java.util.Locale.ROOT, "%.1f GiB", n / (double) (1L << 30));
    }
    if (n >= 1L << 20) {
      return String.format(java.util.Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
    }
    return String.format(java.util.Locale.ROOT, "%.1f KiB", n / 1024.0);
  }

  /**
   * A: the bytes of the largest activation for one row. A sequence model's is its positions ({@link
   * #positions}) times the larger of its widest weight dimension (the hidden or MLP size, or the
   * vocabulary of a head that computes logits; embedding tables, which Gather reads, do not count) and the
   * positions (attention scores); a model of float features's is the largest value
   * that shape inference finds for a batch of one, or the row's elements times the widest weight
   * dimension when shapes cannot be inferred.
   */
  static long rowActivationBytes(OnnxModel model, boolean sequences, long[] rowShape) {
    Set<String> tables = new HashSet<>();
    for (Onnx.NodeProto node : model.nodes()) {
      if (node.getOpType().equals("Gather") && node.getInputCount() > 0) {
        tables.add(node.getInput(0));
      }
    }
    long widest = 1;
    for (WeightTensor w : model.weights().values()) {
      if (!tables.contains(w.name())) { // an embedding table's rows (the vocabulary) are no activation's width
        for (long d : w.shape()) {
          widest = Math.max(widest, d);
        }
      }
    }
    if (sequences) {
      long positions = positions(model);
      return positions * Math.max(widest, positions) * Float.BYTES;
    }
    long largest = 0;
    try {
      for (Map.Entry<String, long[]> e : ShapeInference.infer(model.graph().getGraph(), 1).entrySet()) {
        if (!model.weights().containsKey(e.getKey())) { // a weight is no activation
          largest = Math.max(largest, WeightTensor.elementCount(e.getValue()));
        }
      }
    } catch (IllegalArgumentException unknown) {
      largest = 0;
    }
    long row = WeightTensor.elementCount(rowShape);
    return Math.max(largest, row * (largest > 0 ? 1 : widest)) * Float.BYTES;
  }

  /**
   * The longest rows a sequence model takes: its first input's fixed number of positions, else the rows of
   * its position table (a 2-D float initializer gathered by indices that are no graph input, i.e. computed
   * positions rather than token ids), else {@link #DEFAULT_POSITIONS}.
   */
  static long positions(OnnxModel model) {
    long[] dims = model.inputs().get(0).dims();
    if (dims.length > 1 && dims[1] > 0) {
      return dims[1];
    }
    Set<String> graphInputs = new HashSet<>();
    model.inputs().forEach(i -> graphInputs.add(i.name()));
    long positions = 0;
    for (Onnx.NodeProto node : model.nodes()) {
      if (node.getOpType().equals("Gather") && node.getInputCount() == 2
          && model.weights().containsKey(node.getInput(0)) && !graphInputs.contains(node.getInput(1))) {
        long[] table = model.weights().get(node.getInput(0)).shape();
        if (table.length == 2) {
          positions = Math.max(positions, table[0]);
        }
      }
    }
    return positions > 0 ? positions : DEFAULT_POSITIONS;
  }
}
