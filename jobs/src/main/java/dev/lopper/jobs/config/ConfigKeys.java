package dev.lopper.jobs.config;

import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.CostUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Every configuration key, in one table: its name, type, default, command-line flag and meaning.
 *
 * <p>This is the only place that holds defaults. The reader ({@link LopperConfig#parse}), the
 * manifest's record of the configuration ({@link LopperConfig#asMap}), {@code lopper help config}
 * and the reference in {@code docs/configuration.md} all follow this table; a test checks that the
 * document names every key with its default.
 */
public final class ConfigKeys {

  /** Criterion names the sweep accepts (canonical names and the alias {@code l1-unstructured}). */
  public static final List<String> CRITERIA = dev.lopper.criteria.Criteria.acceptedNames();

  /** The kind of value a key takes; its description is used in error messages and in the docs. */
  public enum Type {
    PATH("a path"),
    STRING("a string"),
    NAME("a name"),
    STRING_LIST("a list of strings"),
    SHAPE("a list of positive integers"),
    POSITIVE_INT("a positive integer"),
    NON_NEGATIVE_INT("a non-negative integer"),
    FRACTION_LIST("a list of numbers in (0, 1]"),
    OPEN_FRACTION("a number in (0, 1)"),
    FRACTION("a number in (0, 1]"),
    NON_NEGATIVE_NUMBER("a non-negative number"),
    SPEEDUP("a number above 1"),
    BOOLEAN("true or false"),
    STRING_MAP("a mapping of names to values");

    private final String description;

    Type(String description) {
      this.description = description;
    }

    /** What a value of this type looks like, for messages: "a positive integer". */
    public String description() {
      return description;
    }
  }

  /**
   * One configuration key.
   *
   * @param name dotted name, e.g. {@code data.batch-size}
   * @param type the kind of value
   * @param defaultValue the value when the key is not given, as the reader would produce it (null
   *     for keys that are optional or required)
   * @param required true when the run cannot start without a value
   * @param nullable true when null is a meaningful value (then it is also allowed explicitly)
   * @param choices the allowed names for {@link Type#NAME} keys, empty otherwise
   * @param flag the command-line flag that sets this key, or null
   * @param doc one or two sentences for the reference
   * @param getter reads the key's value back out of a configuration (for the manifest and YAML)
   */
  public record Key(String name, Type type, Object defaultValue, boolean required, boolean nullable,
      List<String> choices, String flag, String doc, Function<LopperConfig, Object> getter) {

    /** The section, the part of the name before the last dot ("" for top-level keys). */
    public String section() {
      int dot = name.lastIndexOf('.');
      return dot < 0 ? "" : name.substring(0, dot);
    }

    /** The last part of the name. */
    public String leaf() {
      return name.substring(name.lastIndexOf('.') + 1);
    }

    /** What a value must look like, for messages: "one of accuracy, top5" or "a positive integer". */
    public String expected() {
      String what = type == Type.NAME ? "one of " + String.join(", ", choices) : type.description();
      return nullable ? what + " or null" : what;
    }
  }

  /** Every key, in the order of the reference and of the recorded configuration. */
  public static final List<Key> ALL = List.of(
      required("model.onnx", Type.PATH, "--model",
          "The ONNX model to prune, on any Hadoop file system.",
          c -> c.model().onnx()),
      optional("model.weights", Type.PATH, null, "--weights",
          "A safetensors file whose tensors replace the model's initializers of the same name; null keeps "
              + "the weights stored in the ONNX file.",
          c -> c.model().weights()),
      key("model.include", Type.STRING_LIST, List.of("*"), null,
          "Globs over prunable tensor names (`*` any characters, `?` one character); a tensor is swept "
              + "when it matches one of them and none of `model.exclude`. With a channel criterion a group is "
              + "swept when all its producing tensors are.",
          c -> c.model().include()),
      key("model.exclude", Type.STRING_LIST, List.of(), null,
          "Globs of tensor names never to prune.",
          c -> c.model().exclude()),

      required("data.path", Type.PATH, "--data",
          "The validation data: a Parquet file or a directory of Parquet files, on any Hadoop file system.",
          c -> c.data().path()),
      key("data.features", Type.STRING, "features", "--features",
          "The feature column: a list of floats per row, the flattened model input.",
          c -> c.data().features()),
      optional("data.label", Type.STRING, "label", "--label",
          "The integer class-label column; null or \"\" when the data has no labels (then only "
              + "`metric: kl` is possible).",
          c -> c.data().label()),
      optional("data.input-shape", Type.SHAPE, null, null,
          "The shape of one row's input without the batch dimension, e.g. [1, 8, 8]; null takes the "
              + "model input's dimensions.",
          c -> c.data().inputShape()),
      key("data.batch-size", Type.POSITIVE_INT, 256, null,
          "Rows per forward pass.",
          c -> c.data().batchSize()),
      key("data.partitions", Type.NON_NEGATIVE_INT, 0, null,
          "Partitions the data is split into; 0 chooses automatically.",
          c -> c.data().partitions()),

      name("sweep.criterion", "magnitude", CRITERIA, "--criterion",
          "How the weights to prune are chosen within a tensor (`l1-unstructured` is an alias of `magnitude`); "
              + "`channel-l1` and `channel-l2` remove whole channels of channel groups and emit a smaller model.",
          c -> c.sweep().criterion()),
      key("sweep.sparsities", Type.FRACTION_LIST, List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), null,
          "The sparsity grid each prunable tensor is measured at; sorted, duplicates dropped.",
          c -> c.sweep().sparsities()),
      key("sweep.tensors-per-task", Type.NON_NEGATIVE_INT, 0, null,
          "Prunable tensors (or channel groups) evaluated by one task; 0 chooses automatically so that every "
              + "executor core is busy.",
          c -> c.sweep().tensorsPerTask()),

      name("metric", "accuracy", DecisionMetric.names(), "--metric",
          "The metric that drives the allocation and the quality gate: accuracy, top5 and f1 (higher is "
              + "better), loss and kl (the divergence from the dense model's outputs; lower is better).",
          c -> c.metric().configName()),

      name("allocation.policy", "target", AllocationPolicies.NAMES, "--policy",
          "How per-tensor sparsities are chosen from the measured curves: `target` reaches "
              + "`allocation.target` while minimising the summed predicted drop, `tolerance` takes per tensor "
              + "the largest sparsity whose drop is within `allocation.tolerance`, `uniform` and "
              + "`global-magnitude` are baselines to compare with.",
          c -> c.allocation().policy()),
      key("allocation.target", Type.OPEN_FRACTION, 0.5, "--target",
          "Overall sparsity, counted in `allocation.unit` (policies target, uniform, global-magnitude): a fraction "
              + "of the prunable tensors' parameters or FLOPs; with a channel criterion, of the whole model's.",
          c -> c.allocation().target()),
      name("allocation.unit", "parameters", CostUnit.names(), null,
          "What `allocation.target` counts: `parameters`, or `flops` (multiply-accumulates per sample of the Conv, "
              + "Gemm and MatMul nodes, from the graph and the input shape; for magnitude criteria those of the "
              + "non-zero weights).",
          c -> c.allocation().unit().configName()),
      key("allocation.tolerance", Type.NON_NEGATIVE_NUMBER, 0.01, null,
          "Largest allowed predicted drop of the metric per tensor (policy tolerance).",
          c -> c.allocation().tolerance()),
      optional("allocation.max-sparsity", Type.FRACTION, null, null,
          "Largest sparsity any one tensor gets (policies target, tolerance, uniform); null means the largest swept "
              + "sparsity, and a larger value is refused because the drop there is unmeasured.",
          c -> c.allocation().maxSparsity()),
      optional("allocation.min-speedup", Type.SPEEDUP, null, null,
          "With a channel criterion and policy target: the smallest speed-up the pruned model must be predicted "
              + "to run with on ONNX Runtime (CPU, one thread, batch `allocation.latency-batch`), from latencies "
              + "measured per channel group after the sweep; the emitted model's measured speed-up below it fails "
              + "the quality gate (exit code 3). null: latency is not considered.",
          c -> c.allocation().minSpeedup()),
      key("allocation.latency-batch", Type.POSITIVE_INT, 256, null,
          "Rows per run when latency is measured for `allocation.min-speedup`.",
          c -> c.allocation().latencyBatch()),

      optional("gate.max-drop", Type.NON_NEGATIVE_NUMBER, 0.02, null,
          "Largest allowed verified drop of the metric, pruned against dense (command prune); a larger "
              + "drop fails the run with exit code 3. null disables the gate.",
          c -> c.gate().maxDrop()),

      required("output.dir", Type.PATH, "--out",
          "The run directory, on any Hadoop file system. It must not exist unless `output.overwrite` is "
              + "true.",
          c -> c.output().dir()),
      key("output.overwrite", Type.BOOLEAN, false, "--overwrite",
          "Replace an existing `output.dir`.",
          c -> c.output().overwrite()),
      key("output.name-by-date", Type.BOOLEAN, false, null,
          "Name each run's directory by date inside `output.dir`: `<output.dir>/<YYYY-MM-DD>` (UTC), or "
              + "`<YYYY-MM-DD>T<HHmmss>Z` when that day's exists, and compare with the previous run there "
              + "(scheduled runs).",
          c -> c.output().nameByDate()),

      key("runtime.threads", Type.NON_NEGATIVE_INT, 0, null,
          "ONNX Runtime intra-op threads per task; 0 uses the cores Spark gives a task (`spark.task.cpus`).",
          c -> c.runtime().threads()),

      optional("spark.master", Type.STRING, null, "--master",
          "The Spark master when Lopper starts Spark itself, e.g. local[2]; null means local[*]. Ignored "
              + "under spark-submit, which sets its own.",
          c -> c.spark().master()),
      key("spark.conf", Type.STRING_MAP, Map.of(), null,
          "Extra Spark settings applied when the session starts, e.g. `spark.executor.memory: 4g`; "
              + "`spark.hadoop.*` entries also apply to the input checks made outside Spark.",
          c -> c.spark().conf()));

  private ConfigKeys() {}

  /** The key named {@code name}, if it exists. */
  public static Optional<Key> find(String name) {
    return ALL.stream().filter(k -> k.name().equals(name)).findFirst();
  }

  /** The key set by command-line flag {@code flag} (e.g. {@code --model}), if any. */
  public static Optional<Key> byFlag(String flag) {
    return ALL.stream().filter(k -> flag.equals(k.flag())).findFirst();
  }

  /** The sections, in order: "model", "data", ..., "" for top-level keys not included. */
  public static List<String> sections() {
    return ALL.stream().map(Key::section).filter(s -> !s.isEmpty()).distinct().toList();
  }

  /** The reference as plain text, for {@code lopper help config}. */
  public static String reference() {
    StringBuilder out = new StringBuilder();
    for (Key key : ALL) {
      out.append(key.name()).append(" (").append(key.expected());
      if (key.required()) {
        out.append(", required");
      } else {
        out.append(", default ").append(render(key.defaultValue()));
      }
      if (key.flag() != null) {
        out.append(", flag ").append(key.flag());
      }
      out.append(")\n    ").append(key.doc().replace("`", "")).append('\n');
    }
    return out.toString();
  }

  /** A value as it is written in YAML: null, numbers, names, [a, b], {}. */
  public static String render(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof List<?> list) {
      return list.stream().map(v -> v instanceof String ? "\"" + v + "\"" : render(v))
          .collect(Collectors.joining(", ", "[", "]"));
    }
    if (value instanceof Map<?, ?> map) {
      return map.isEmpty() ? "{}" : map.toString();
    }
    if (value instanceof String s && s.isEmpty()) {
      return "\"\"";
    }
    return String.valueOf(value);
  }

  private static Key key(String name, Type type, Object defaultValue, String flag, String doc,
      Function<LopperConfig, Object> getter) {
    return new Key(name, type, defaultValue, false, false, List.of(), flag, doc, getter);
  }

  private static Key optional(String name, Type type, Object defaultValue, String flag, String doc,
      Function<LopperConfig, Object> getter) {
    return new Key(name, type, defaultValue, false, true, List.of(), flag, doc, getter);
  }

  private static Key required(String name, Type type, String flag, String doc,
      Function<LopperConfig, Object> getter) {
    return new Key(name, type, null, true, false, List.of(), flag, doc, getter);
  }

  private static Key name(String name, String defaultValue, List<String> choices, String flag, String doc,
      Function<LopperConfig, Object> getter) {
    return new Key(name, Type.NAME, defaultValue, false, false, List.copyOf(choices), flag, doc, getter);
  }

  static List<String> names() {
    return ALL.stream().map(Key::name).toList();
  }

  /** The command-line flags that set keys ({@code --model}, ...), in table order. */
  public static List<String> flags() {
    return ALL.stream().map(Key::flag).filter(f -> f != null).toList();
  }
}
