package dev.lopper.jobs.config;

import dev.lopper.jobs.allocation.AllocationPolicies;
import dev.lopper.jobs.allocation.CostUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Every configuration key, in one table of typed {@link Key}s: name, kind of value (with its parser
 * and check), default, command-line flag, meaning, and where the value sits in a {@link LopperConfig}.
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

  // The keys, in the order of the reference and of the recorded configuration; ALL lists them.

  static final Key<String> MODEL_ONNX = path("model.onnx").flag("--model")
      .doc("The ONNX model to prune, on any Hadoop file system.")
      .valueIn(c -> c.model().onnx())
      .required();
  static final Key<String> MODEL_WEIGHTS = path("model.weights").flag("--weights")
      .doc("A safetensors file whose tensors replace the model's initializers of the same name; null keeps "
          + "the weights stored in the ONNX file.")
      .valueIn(c -> c.model().weights())
      .optional(null);
  static final Key<List<String>> MODEL_INCLUDE = strings("model.include")
      .doc("Globs over prunable tensor names (`*` any characters, `?` one character); a tensor is swept "
          + "when it matches one of them and none of `model.exclude`. With a channel criterion a group is "
          + "swept when all its producing tensors are.")
      .valueIn(c -> c.model().include())
      .withDefault(List.of("*"));
  static final Key<List<String>> MODEL_EXCLUDE = strings("model.exclude")
      .doc("Globs of tensor names never to prune.")
      .valueIn(c -> c.model().exclude())
      .withDefault(List.of());

  static final Key<String> DATA_PATH = path("data.path").flag("--data")
      .doc("The validation data: a Parquet file or a directory of Parquet files, on any Hadoop file system.")
      .valueIn(c -> c.data().path())
      .required();
  static final Key<String> DATA_FEATURES = string("data.features").flag("--features")
      .doc("The feature column: a list of floats per row, the flattened model input.")
      .valueIn(c -> c.data().features())
      .withDefault("features");
  static final Key<String> DATA_LABEL = string("data.label").flag("--label")
      .doc("The integer class-label column; null or \"\" when the data has no labels (then only "
          + "`metric: kl` is possible).")
      .valueIn(c -> c.data().label())
      .optional("label");
  static final Key<Map<String, String>> DATA_INPUTS = Key.builder("data.inputs", Type.STRING_MAP, Parsers.SETTINGS)
      .doc("For models with token inputs: the column that feeds each model input, e.g. `{input_ids: ids}`; "
          + "an input not named here is fed from the column of its own name (so a tokenizer's output, "
          + "columns `input_ids`, `attention_mask`, `token_type_ids`, needs no setting). Columns are lists of "
          + "integers, one list per row, all of a row's lists of one length.")
      .valueIn(c -> c.data().inputs())
      .withDefault(Map.of());
  static final Key<String> DATA_TARGETS = string("data.targets")
      .doc("For language models: a column of target token ids per row, aligned with the positions (position "
          + "t predicts target t; -100 predicts nothing); null shifts the input ids by one (position t "
          + "predicts token t + 1, the last position nothing).")
      .valueIn(c -> c.data().targets())
      .optional(null);
  static final Key<List<Long>> DATA_INPUT_SHAPE = shape("data.input-shape")
      .doc("The shape of one row's input without the batch dimension, e.g. [1, 8, 8]; null takes the "
          + "model input's dimensions.")
      .valueIn(c -> c.data().inputShape())
      .optional(null);
  static final Key<Integer> DATA_BATCH_SIZE = integer("data.batch-size", Type.POSITIVE_INT)
      .doc("Rows per forward pass.")
      .valueIn(c -> c.data().batchSize())
      .withDefault(256);
  static final Key<Integer> DATA_PARTITIONS = integer("data.partitions", Type.NON_NEGATIVE_INT)
      .doc("Partitions the data is split into; 0 chooses automatically.")
      .valueIn(c -> c.data().partitions())
      .withDefault(0);

  static final Key<String> SWEEP_CRITERION = name("sweep.criterion", CRITERIA).flag("--criterion")
      .doc("How the weights to prune are chosen within a tensor (`l1-unstructured` is an alias of `magnitude`); "
          + "`channel-l1` and `channel-l2` remove whole channels of channel groups (a transformer's attention "
          + "heads and FFN neurons) and emit a smaller model, "
          + "`channel-fluctuation` and `channel-wanda` too, choosing the channels from calibration statistics of "
          + "their consumers' inputs (FLAP's fluctuation and Wanda-sp); "
          + "`wanda` ranks |w| times the input's root mean square within each output row, `sparsegpt` chooses and "
          + "reconstructs by SparseGPT's OBS update (the pruned model's remaining weights change); both gather "
          + "calibration statistics first (`calibration.*`).")
      .valueIn(c -> c.sweep().criterion())
      .withDefault("magnitude");
  static final Key<List<Double>> SWEEP_SPARSITIES = Key.builder("sweep.sparsities", Type.FRACTION_LIST,
          Parsers.grid(x -> inRange(Type.FRACTION, x)))
      .doc("The sparsity grid each prunable tensor is measured at; sorted, duplicates dropped.")
      .valueIn(c -> c.sweep().sparsities())
      .withDefault(List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9));
  static final Key<Integer> SWEEP_TENSORS_PER_TASK = integer("sweep.tensors-per-task", Type.NON_NEGATIVE_INT)
      .doc("Prunable tensors (or channel groups) evaluated by one task; 0 chooses automatically so that every "
          + "executor core is busy.")
      .valueIn(c -> c.sweep().tensorsPerTask())
      .withDefault(0);

  static final Key<String> SWEEP_PATTERN = Key.builder("sweep.pattern", Type.STRING, Parsers.SCALAR)
      .check((value, input) -> {
        try {
          dev.lopper.criteria.SparsityPattern.parse(value);
        } catch (dev.lopper.InvalidInputException e) {
          throw input.refused("expected unstructured or N:M with 1 <= N < M (e.g. 2:4, 4:8), found '" + value + "'");
        }
      })
      .doc("Where pruned weights may fall: `unstructured`, or `N:M` such as `2:4` or `4:8` (at most N non-zero "
          + "weights in every M consecutive weights along the input dimension of each output row, for every "
          + "unstructured criterion). Under N:M a tensor is dense or at sparsity (M − N) / M, so the sweep measures "
          + "that one sparsity and `sweep.sparsities` is not used.")
      .valueIn(c -> c.sweep().pattern().toString())
      .withDefault("unstructured");
  static final Key<String> SWEEP_RUN = name("sweep.run", List.of("auto", "always"))
      .doc("Whether command prune runs the sensitivity sweep: `auto` only when the allocation policy needs measured "
          + "curves (target, tolerance), not for uniform, owl and global-magnitude, whose sweep for a large model "
          + "would be the expensive part of the run; `always` to measure the curves anyway (the sensitivity table and "
          + "the allocation's predicted drops). Command sensitivity always sweeps.")
      .valueIn(c -> c.sweep().run())
      .withDefault("auto");

  static final Key<Boolean> STRUCTURE_COMPENSATE = Key.builder("structure.compensate", Type.BOOLEAN, Parsers.BOOLEAN)
      .doc("With a channel criterion: add the removed channels' mean contribution (from the calibration statistics) "
          + "to each consumer's bias, as FLAP does, in the sweep's variants, the allocation and the emitted model "
          + "(`compensation.safetensors` holds the compensated dense biases). null: on for the activation-aware "
          + "`channel-fluctuation` and `channel-wanda`, off for `channel-l1` and `channel-l2`. Turning it on "
          + "makes any channel criterion calibrate.")
      .valueIn(c -> c.sweep().compensate())
      .optional(null);

  static final Key<String> CALIBRATION_DATA = path("calibration.data")
      .doc("The calibration data of activation-aware criteria (`wanda`, `sparsegpt`) and policy `owl`: Parquet with the "
          + "columns `data.*` names (inputs only; labels and targets are not read); null uses `data.path`.")
      .valueIn(c -> c.calibration().data())
      .optional(null);
  static final Key<Integer> CALIBRATION_ROWS = integer("calibration.rows", Type.POSITIVE_INT)
      .doc("Calibrate on the first rows of the calibration data in file order; null uses every row.")
      .valueIn(c -> c.calibration().rows())
      .optional(null);
  static final Key<String> CALIBRATION_SEQUENTIAL = name("calibration.sequential", List.of("true", "false", "cut"))
      .doc("true: the prunable tensors are calibrated group by group in graph order (decoder blocks, or "
          + "`calibration.groups`), each group on the activations of the model with the earlier groups already pruned "
          + "(and, for sparsegpt, reconstructed), as the reference implementations do; cut: the same with a group "
          + "between every two consecutive single-value cuts of the graph (for a decoder, each block's attention and "
          + "its MLP); false: one pass over the dense model gives every statistic.")
      .valueIn(c -> c.calibration().sequential())
      .withDefault("true");
  static final Key<List<String>> CALIBRATION_GROUPS = strings("calibration.groups")
      .doc("Groups of sequential calibration as globs over tensor names, one glob per group (a tensor joins the first "
          + "group it matches; tensors matching none are groups of their own); empty: the decoder blocks found "
          + "from the consumers' node names (`/blocks.0/…`, `/model/layers.3/…`).")
      .valueIn(c -> c.calibration().groups())
      .withDefault(List.of());
  static final Key<Double> CALIBRATION_DAMPENING = number("calibration.dampening", Type.NON_NEGATIVE_NUMBER)
      .doc("SparseGPT's dampening: this fraction of the mean diagonal of each Gram matrix is added to its diagonal "
          + "before the Cholesky factorisation.")
      .valueIn(c -> c.calibration().dampening())
      .withDefault(CalibrationConfig.DEFAULT_DAMPENING);
  static final Key<String> CALIBRATION_FROM = path("calibration.from")
      .doc("A previous run directory whose `calibration/` statistics to reuse instead of computing them; refused "
          + "unless its model, calibration data and calibration settings match this run's (checksums compared).")
      .valueIn(c -> c.calibration().from())
      .optional(null);

  static final Key<String> METRIC = name("metric", DecisionMetric.names()).flag("--metric")
      .doc("The metric that drives the allocation and the quality gate: accuracy, top5 and f1 (higher is "
          + "better), loss and kl (the divergence from the dense model's outputs; lower is better) for "
          + "classifiers; for language models (token inputs, logits per position) perplexity, loss (mean "
          + "token negative log-likelihood) and accuracy (next token); for any other output cosine, the "
          + "mean cosine similarity of the pruned model's mean-pooled output to the dense model's. A drop "
          + "in perplexity is its relative increase.")
      .valueIn(c -> c.metric().configName())
      .withDefault("accuracy");

  static final Key<String> ALLOCATION_POLICY = name("allocation.policy", AllocationPolicies.NAMES).flag("--policy")
      .doc("How per-tensor sparsities are chosen from the measured curves: `target` reaches "
          + "`allocation.target` while minimising the summed predicted drop, `tolerance` takes per tensor "
          + "the largest sparsity whose drop is within `allocation.tolerance`, `uniform` and "
          + "`global-magnitude` are baselines to compare with; `owl` (outlier-weighted layerwise sparsity) gives "
          + "each calibration group a sparsity around the target from the share of its Wanda scores above "
          + "`allocation.owl-m` times their mean.")
      .valueIn(c -> c.allocation().policy())
      .withDefault("target");
  static final Key<Double> ALLOCATION_TARGET = number("allocation.target", Type.OPEN_FRACTION).flag("--target")
      .doc("Overall sparsity, counted in `allocation.unit` (policies target, uniform, global-magnitude): a fraction "
          + "of the prunable tensors' parameters or FLOPs; with a channel criterion, of the whole model's.")
      .valueIn(c -> c.allocation().target())
      .withDefault(0.5);
  static final Key<String> ALLOCATION_UNIT = name("allocation.unit", CostUnit.names())
      .doc("What `allocation.target` counts: `parameters`, or `flops` (multiply-accumulates per sample of the Conv, "
          + "Gemm and MatMul nodes, from the graph and the input shape; for magnitude criteria those of the "
          + "non-zero weights).")
      .valueIn(c -> c.allocation().unit().configName())
      .withDefault("parameters");
  static final Key<Double> ALLOCATION_TOLERANCE = number("allocation.tolerance", Type.NON_NEGATIVE_NUMBER)
      .doc("Largest allowed predicted drop of the metric per tensor (policy tolerance).")
      .valueIn(c -> c.allocation().tolerance())
      .withDefault(0.01);
  static final Key<Double> ALLOCATION_MAX_SPARSITY = number("allocation.max-sparsity", Type.FRACTION)
      .doc("Largest sparsity any one tensor gets (policies target, tolerance, uniform); null means the largest swept "
          + "sparsity, and a larger value is refused because the drop there is unmeasured.")
      .valueIn(c -> c.allocation().maxSparsity())
      .optional(null);
  static final Key<Double> ALLOCATION_MIN_SPEEDUP = number("allocation.min-speedup", Type.SPEEDUP)
      .doc("With a channel criterion and policy target: the smallest speed-up the pruned model must be predicted "
          + "to run with on ONNX Runtime (CPU, one thread, batch `allocation.latency-batch`, of "
          + "`allocation.latency-sequence` tokens per row for token models), from latencies "
          + "measured per channel group after the sweep; the emitted model's measured speed-up below it fails "
          + "the quality gate (exit code 3). Given while the configuration names no `allocation.target`, the "
          + "default target does not apply: the groups with the least measured loss per unit of time saved are "
          + "removed until the predicted speed-up is reached. null: latency is not considered.")
      .valueIn(c -> c.allocation().minSpeedup())
      .optional(null);
  static final Key<Integer> ALLOCATION_LATENCY_BATCH = integer("allocation.latency-batch", Type.POSITIVE_INT)
      .doc("Rows per run when latency is measured for `allocation.min-speedup`.")
      .valueIn(c -> c.allocation().latencyBatch())
      .withDefault(256);
  static final Key<Integer> ALLOCATION_LATENCY_SEQUENCE = integer("allocation.latency-sequence", Type.POSITIVE_INT)
      .doc("Tokens per row when latency is measured for `allocation.min-speedup` on a model of token inputs "
          + "(`allocation.latency-batch` rows of random token ids below the vocabulary, attention mask all ones, "
          + "token types zero); capped at the model's position table. Float models ignore it.")
      .valueIn(c -> c.allocation().latencySequence())
      .withDefault(128);

  static final Key<Double> ALLOCATION_OWL_M = number("allocation.owl-m", Type.NON_NEGATIVE_NUMBER)
      .doc("Policy owl: a Wanda score is an outlier when above this many times its group's mean score.")
      .valueIn(c -> c.allocation().owlM())
      .withDefault(AllocationConfig.DEFAULT_OWL_M);
  static final Key<Double> ALLOCATION_OWL_LAMBDA = number("allocation.owl-lambda", Type.OPEN_FRACTION)
      .doc("Policy owl: groups' sparsities lie within this distance of `allocation.target`, their mean the target.")
      .valueIn(c -> c.allocation().owlLambda())
      .withDefault(AllocationConfig.DEFAULT_OWL_LAMBDA);

  static final Key<Double> GATE_MAX_DROP = number("gate.max-drop", Type.NON_NEGATIVE_NUMBER)
      .doc("Largest allowed verified drop of the metric, pruned against dense (command prune); a larger "
          + "drop fails the run with exit code 3. null disables the gate.")
      .valueIn(c -> c.gate().maxDrop())
      .optional(0.02);

  static final Key<String> OUTPUT_DIR = path("output.dir").flag("--out")
      .doc("The run directory, on any Hadoop file system. It must not exist unless `output.overwrite` is "
          + "true.")
      .valueIn(c -> c.output().dir())
      .required();
  static final Key<Boolean> OUTPUT_OVERWRITE = Key.builder("output.overwrite", Type.BOOLEAN, Parsers.BOOLEAN)
      .flag("--overwrite")
      .doc("Replace an existing `output.dir`.")
      .valueIn(c -> c.output().overwrite())
      .withDefault(false);
  static final Key<Boolean> OUTPUT_NAME_BY_DATE = Key.builder("output.name-by-date", Type.BOOLEAN, Parsers.BOOLEAN)
      .doc("Name each run's directory by date inside `output.dir`: `<output.dir>/<YYYY-MM-DD>` (UTC), or "
          + "`<YYYY-MM-DD>T<HHmmss>Z` when that day's exists, and compare with the previous run there "
          + "(scheduled runs).")
      .valueIn(c -> c.output().nameByDate())
      .withDefault(false);

  static final Key<Integer> RUNTIME_THREADS = integer("runtime.threads", Type.NON_NEGATIVE_INT)
      .doc("ONNX Runtime intra-op threads per task; 0 uses the cores Spark gives a task (`spark.task.cpus`).")
      .valueIn(c -> c.runtime().threads())
      .withDefault(0);

  static final Key<String> SPARK_MASTER = string("spark.master").flag("--master")
      .doc("The Spark master when Lopper starts Spark itself, e.g. local[2]; null means local[*]. Ignored "
          + "under spark-submit, which sets its own.")
      .valueIn(c -> c.spark().master())
      .optional(null);
  // Unlike the other keys, spark.conf merges: each mapping or entry given adds to those given before.
  static final Key<Map<String, String>> SPARK_CONF = Key.builder("spark.conf", Type.STRING_MAP, Parsers.SETTINGS)
      .doc("Extra Spark settings applied when the session starts, e.g. `spark.executor.memory: 4g`; "
          + "`spark.hadoop.*` entries also apply to the input checks made outside Spark.")
      .valueIn(c -> c.spark().conf())
      .withDefault(Map.of());

  /** Every key, in the order of the reference and of the recorded configuration. */
  public static final List<Key<?>> ALL = List.of(
      MODEL_ONNX, MODEL_WEIGHTS, MODEL_INCLUDE, MODEL_EXCLUDE,
      DATA_PATH, DATA_FEATURES, DATA_LABEL, DATA_INPUTS, DATA_TARGETS, DATA_INPUT_SHAPE, DATA_BATCH_SIZE, DATA_PARTITIONS,
      SWEEP_CRITERION, SWEEP_SPARSITIES, SWEEP_TENSORS_PER_TASK, SWEEP_PATTERN, SWEEP_RUN,
      STRUCTURE_COMPENSATE,
      CALIBRATION_DATA, CALIBRATION_ROWS, CALIBRATION_SEQUENTIAL, CALIBRATION_GROUPS, CALIBRATION_DAMPENING,
      CALIBRATION_FROM,
      METRIC,
      ALLOCATION_POLICY, ALLOCATION_TARGET, ALLOCATION_UNIT, ALLOCATION_TOLERANCE, ALLOCATION_MAX_SPARSITY,
      ALLOCATION_MIN_SPEEDUP, ALLOCATION_LATENCY_BATCH, ALLOCATION_LATENCY_SEQUENCE, ALLOCATION_OWL_M, ALLOCATION_OWL_LAMBDA,
      GATE_MAX_DROP,
      OUTPUT_DIR, OUTPUT_OVERWRITE, OUTPUT_NAME_BY_DATE,
      RUNTIME_THREADS,
      SPARK_MASTER, SPARK_CONF);

  private ConfigKeys() {}

  /** The key named {@code name}, if it exists. */
  public static Optional<Key<?>> find(String name) {
    return ALL.stream().filter(k -> k.name().equals(name)).findFirst();
  }

  /** The key set by command-line flag {@code flag} (e.g. {@code --model}), if any. */
  public static Optional<Key<?>> byFlag(String flag) {
    return ALL.stream().filter(k -> flag.equals(k.flag())).findFirst();
  }

  /** The sections, in order: "model", "data", ..., "" for top-level keys not included. */
  public static List<String> sections() {
    return ALL.stream().map(Key::section).filter(s -> !s.isEmpty()).distinct().toList();
  }

  /** The reference as plain text, for {@code lopper help config}. */
  public static String reference() {
    StringBuilder out = new StringBuilder();
    for (Key<?> key : ALL) {
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

  // One builder per kind of value: each pairs the kind's description with the parser and check that
  // make it true, so that a key's type in the reference and what its reader accepts cannot drift apart.

  private static Key.Builder<String> path(String name) {
    return Key.builder(name, Type.PATH, Parsers.TEXT);
  }

  private static Key.Builder<String> string(String name) {
    return Key.builder(name, Type.STRING, Parsers.TEXT);
  }

  private static Key.Builder<String> name(String name, List<String> choices) {
    List<String> names = List.copyOf(choices);
    return Key.builder(name, Type.NAME, Parsers.SCALAR).choices(names).check((value, input) -> {
      if (!names.contains(value)) {
        throw input.refused("unknown name '" + value + "'; expected one of " + String.join(", ", names));
      }
    });
  }

  private static Key.Builder<List<String>> strings(String name) {
    return Key.builder(name, Type.STRING_LIST, Parsers.STRINGS);
  }

  private static Key.Builder<List<Long>> shape(String name) {
    return Key.builder(name, Type.SHAPE, Parsers.SHAPE);
  }

  private static Key.Builder<Integer> integer(String name, Type type) {
    int min = switch (type) {
      case POSITIVE_INT -> 1;
      case NON_NEGATIVE_INT -> 0;
      default -> throw new IllegalArgumentException(type + " is not a kind of integer");
    };
    return Key.builder(name, type, Parsers.INTEGER).check(Key.Check.fits(n -> n >= min));
  }

  private static Key.Builder<Double> number(String name, Type type) {
    return Key.builder(name, type, Parsers.NUMBER).check(Key.Check.fits(x -> inRange(type, x)));
  }

  /** Whether {@code x} is a number of kind {@code type}, as the type's description says. */
  private static boolean inRange(Type type, double x) {
    return switch (type) {
      case OPEN_FRACTION -> x > 0 && x < 1;
      case FRACTION -> x > 0 && x <= 1;
      case NON_NEGATIVE_NUMBER -> x >= 0 && Double.isFinite(x);
      case SPEEDUP -> x > 1 && Double.isFinite(x);
      default -> throw new IllegalArgumentException(type + " is not a kind of number");
    };
  }

  static List<String> names() {
    return ALL.stream().map(Key::name).toList();
  }

  /** The command-line flags that set keys ({@code --model}, ...), in table order. */
  public static List<String> flags() {
    return ALL.stream().map(Key::flag).filter(f -> f != null).toList();
  }
}
