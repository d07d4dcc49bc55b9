package dev.lopper.jobs.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.SparsityPattern;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.config.ConfigKeys.Type;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * Turns a YAML document and command-line overrides into a checked {@link LopperConfig}.
 *
 * <p>Every value is read by its {@link Key}, which parses and checks it into the type of the record
 * field it fills; every error is one {@link InvalidInputException} naming the key and where its
 * value came from (the file, {@code --set} or a flag).
 */
final class ConfigReader {

  private static final YAMLMapper YAML = YAMLMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();
  private static final String SPARK_CONF = ConfigKeys.SPARK_CONF.name();

  /** A value as given, with where it came from. */
  private record Given(JsonNode node, String label) {}

  private final String source;
  private final Map<String, Given> given = new LinkedHashMap<>();
  private final Map<String, String> sparkConf = new LinkedHashMap<>();

  private ConfigReader(String source) {
    this.source = source;
  }

  /** The file's name for messages about its values. */
  private String where() {
    return source == null ? "configuration" : source;
  }

  /** Parses and checks the configuration; reads no file. */
  static LopperConfig parse(String yamlText, String source, List<ConfigOverride> overrides) {
    return new ConfigReader(source).read(yamlText, overrides).build();
  }

  /** Parses, checks and verifies that the input files exist. */
  static LopperConfig parseAndCheckInputs(String yamlText, String source, List<ConfigOverride> overrides,
      Configuration hadoopOrNull) {
    ConfigReader reader = new ConfigReader(source).read(yamlText, overrides);
    LopperConfig config = reader.build();
    reader.checkInputs(config, hadoopOrNull == null ? config.hadoopConfiguration() : hadoopOrNull);
    return config;
  }

  private ConfigReader read(String yamlText, List<ConfigOverride> overrides) {
    if (yamlText != null && !yamlText.isBlank()) {
      JsonNode root;
      try {
        root = YAML.readTree(yamlText);
      } catch (JsonProcessingException e) {
        throw new InvalidInputException(where() + ": not valid YAML: " + firstLine(e.getOriginalMessage())
            + locationOf(e), e);
      }
      if (root != null && !root.isMissingNode() && !root.isNull()) {
        if (!root.isObject()) {
          throw new InvalidInputException(where() + ": expected a mapping of configuration keys at the top, found "
              + Key.Input.found(root));
        }
        flatten(root, "");
      }
    }
    for (ConfigOverride override : overrides) {
      applyOverride(override);
    }
    return this;
  }

  // ---- collecting values ----

  /** Records the keys of the mapping {@code node}, descending into sections. */
  private void flatten(JsonNode node, String prefix) {
    Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = prefix + field.getKey();
      JsonNode value = field.getValue();
      if (name.equals(SPARK_CONF)) {
        mergeSparkConf(value, where() + ": " + SPARK_CONF);
      } else if (ConfigKeys.find(name).isPresent()) {
        given.put(name, new Given(value, where() + ": " + name));
      } else if (ConfigKeys.sections().contains(name)) {
        if (!value.isObject()) {
          throw new InvalidInputException(where() + ": " + name + ": expected a mapping of " + name
              + ".* keys, found " + Key.Input.found(value));
        }
        flatten(value, name + ".");
      } else {
        throw new InvalidInputException(where() + ": unknown key '" + name + "'" + suggestion(name));
      }
    }
  }

  /** Adds the entries of a {@code spark.conf} mapping to those given before; null adds none. */
  private void mergeSparkConf(JsonNode node, String label) {
    if (!node.isNull()) {
      sparkConf.putAll(ConfigKeys.SPARK_CONF.read(node, label));
    }
  }

  private void applyOverride(ConfigOverride override) {
    String name = override.key();
    String label = override.origin().equals("--set") ? "--set " + name : override.origin() + " (" + name + ")";
    if (name.startsWith(SPARK_CONF + ".")) {
      String entry = name.substring(SPARK_CONF.length() + 1);
      if (entry.isEmpty()) {
        throw new InvalidInputException(label + ": name the Spark setting, e.g. --set spark.conf.spark.executor.memory=4g");
      }
      sparkConf.put(entry, override.value());
      return;
    }
    if (name.equals(SPARK_CONF)) {
      mergeSparkConf(parseValue(override.value()), label);
      return;
    }
    Key<?> key = ConfigKeys.find(name).orElseThrow(() -> new InvalidInputException(
        override.origin() + ": unknown key '" + name + "'" + suggestion(name)));
    given.put(name, new Given(overrideNode(key, override.value()), label));
  }

  /** Strings are taken as typed (only "null" and "~" mean null); other values are parsed as YAML. */
  private static JsonNode overrideNode(Key<?> key, String raw) {
    String trimmed = raw.trim();
    if (trimmed.equals("null") || trimmed.equals("~")) {
      return NullNode.getInstance();
    }
    if (key.type() == Type.PATH || key.type() == Type.STRING || key.type() == Type.NAME) {
      return JsonNodeFactory.instance.textNode(raw);
    }
    if (trimmed.isEmpty()) {
      return NullNode.getInstance();
    }
    return parseValue(raw);
  }

  private static JsonNode parseValue(String raw) {
    try {
      JsonNode node = YAML.readTree(raw);
      return node == null || node.isMissingNode() ? NullNode.getInstance() : node;
    } catch (JsonProcessingException e) {
      return JsonNodeFactory.instance.textNode(raw);
    }
  }

  // ---- building and cross-checking ----

  /** The value given for {@code key}, parsed and checked, or its default. */
  private <T> T read(Key<T> key) {
    Given value = given.get(key.name());
    return value == null ? key.defaultValue() : key.read(value.node(), value.label());
  }

  /** Where {@code key}'s value came from, or its name when it was not given. */
  private String label(Key<?> key) {
    Given value = given.get(key.name());
    return value != null ? value.label() : key.name();
  }

  private LopperConfig build() {
    // Every key is read before any is found missing or weighed against another, in the order of the
    // table, so that of two bad values the one reported is the first in the reference.
    ModelConfig model = new ModelConfig(read(ConfigKeys.MODEL_ONNX), read(ConfigKeys.MODEL_WEIGHTS),
        read(ConfigKeys.MODEL_INCLUDE), read(ConfigKeys.MODEL_EXCLUDE));
    DataConfig data = new DataConfig(read(ConfigKeys.DATA_PATH), read(ConfigKeys.DATA_FEATURES),
        read(ConfigKeys.DATA_LABEL), read(ConfigKeys.DATA_INPUTS), read(ConfigKeys.DATA_TARGETS),
        read(ConfigKeys.DATA_INPUT_SHAPE), read(ConfigKeys.DATA_BATCH_SIZE), read(ConfigKeys.DATA_PARTITIONS));
    SweepConfig sweep = new SweepConfig(read(ConfigKeys.SWEEP_CRITERION), read(ConfigKeys.SWEEP_SPARSITIES),
        read(ConfigKeys.SWEEP_TENSORS_PER_TASK), SparsityPattern.parse(read(ConfigKeys.SWEEP_PATTERN)),
        read(ConfigKeys.SWEEP_RUN), read(ConfigKeys.STRUCTURE_COMPENSATE));
    CalibrationConfig calibration = new CalibrationConfig(read(ConfigKeys.CALIBRATION_DATA),
        read(ConfigKeys.CALIBRATION_ROWS), read(ConfigKeys.CALIBRATION_SEQUENTIAL), read(ConfigKeys.CALIBRATION_GROUPS),
        read(ConfigKeys.CALIBRATION_DAMPENING), read(ConfigKeys.CALIBRATION_FROM));
    DecisionMetric metric = DecisionMetric.fromName(read(ConfigKeys.METRIC));
    String policy = read(ConfigKeys.ALLOCATION_POLICY);
    double target = read(ConfigKeys.ALLOCATION_TARGET);
    CostUnit unit = CostUnit.fromName(read(ConfigKeys.ALLOCATION_UNIT));
    double tolerance = read(ConfigKeys.ALLOCATION_TOLERANCE);
    Double maxSparsity = read(ConfigKeys.ALLOCATION_MAX_SPARSITY);
    Double minSpeedup = read(ConfigKeys.ALLOCATION_MIN_SPEEDUP);
    int latencyBatch = read(ConfigKeys.ALLOCATION_LATENCY_BATCH);
    int latencySequence = read(ConfigKeys.ALLOCATION_LATENCY_SEQUENCE);
    double owlM = read(ConfigKeys.ALLOCATION_OWL_M);
    double owlLambda = read(ConfigKeys.ALLOCATION_OWL_LAMBDA);
    GateConfig gate = new GateConfig(read(ConfigKeys.GATE_MAX_DROP));
    OutputConfig output = new OutputConfig(read(ConfigKeys.OUTPUT_DIR), read(ConfigKeys.OUTPUT_OVERWRITE),
        read(ConfigKeys.OUTPUT_NAME_BY_DATE));
    RuntimeConfig runtime = new RuntimeConfig(read(ConfigKeys.RUNTIME_THREADS));
    SparkConfig spark = new SparkConfig(read(ConfigKeys.SPARK_MASTER), sparkConf);

    for (Key<?> key : ConfigKeys.ALL) {
      if (key.required() && !given.containsKey(key.name())) {
        String how = key.flag() == null ? "--set " + key.name() + "=..." : key.flag();
        throw new InvalidInputException((source == null ? "" : source + ": ") + "missing required key "
            + key.name() + " (set it in the configuration file or pass " + how + ")");
      }
    }
    if (model.include().isEmpty()) {
      throw new InvalidInputException(label(ConfigKeys.MODEL_INCLUDE) + ": the list is empty, so no tensor would "
          + "be pruned; use [\"*\"] for every prunable tensor");
    }
    if (metric.needsLabels() && !data.hasLabels()) {
      throw new InvalidInputException(label(ConfigKeys.METRIC) + ": metric " + metric.configName() + " needs labels "
          + "but data.label is empty; name the label column or use metric kl");
    }
    double largest = sweep.maxSparsity();
    if (maxSparsity == null) {
      maxSparsity = largest;
    } else if (maxSparsity > largest) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_MAX_SPARSITY) + ": " + maxSparsity + " is above "
          + "the largest swept sparsity " + largest + ", where the drop is unmeasured; sweep higher sparsities "
          + "or lower allocation.max-sparsity");
    }
    boolean structured = Criteria.byName(sweep.criterion()) instanceof ChannelCriterion;
    if (policy.equals("global-magnitude") && structured) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_POLICY) + ": global-magnitude prunes single "
          + "weights, but sweep.criterion " + sweep.criterion() + " prunes whole channels; use target, tolerance "
          + "or uniform");
    }
    if (Boolean.TRUE.equals(sweep.compensate()) && !structured) {
      throw new InvalidInputException(label(ConfigKeys.STRUCTURE_COMPENSATE) + ": compensates removed channels, but "
          + "sweep.criterion " + sweep.criterion() + " prunes single weights; use a channel criterion (channel-l1, "
          + "channel-l2, channel-fluctuation, channel-wanda) or set structure.compensate to null");
    }
    if (policy.equals("global-magnitude") && unit != CostUnit.PARAMETERS) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_UNIT) + ": global-magnitude counts its target in "
          + "parameters; use allocation.unit parameters or another policy");
    }
    // With channel groups the target is a fraction of the whole model, reached through calibration,
    // so the cap on each group's sparsity does not bound it this simply.
    if (calibration.byCuts() && !calibration.groups().isEmpty()) {
      throw new InvalidInputException(label(ConfigKeys.CALIBRATION_GROUPS) + ": calibration.sequential cut makes the "
          + "groups from the graph's single-value cuts; give calibration.groups with calibration.sequential true, or "
          + "leave it empty");
    }
    if (calibration.from() != null && !sweep.criterion().equals("wanda") && !sweep.criterion().equals("sparsegpt")) {
      throw new InvalidInputException(label(ConfigKeys.CALIBRATION_FROM) + ": reuses the statistics of "
          + "sweep.criterion wanda or sparsegpt, but this run's criterion is " + sweep.criterion()
          + ", which reads none; set calibration.from to null");
    }
    if (policy.equals("global-magnitude") && (sweep.criterion().equals("wanda") || sweep.criterion().equals("sparsegpt"))) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_POLICY) + ": global-magnitude chooses weights by one "
          + "magnitude threshold over all tensors, which sweep.criterion " + sweep.criterion() + " does not use; use "
          + "uniform, owl, target or tolerance");
    }
    SparsityPattern pattern = sweep.pattern();
    if (pattern.isNm()) {
      checkPattern(sweep, policy, structured);
    }
    if (policy.equals("owl") && structured) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_POLICY) + ": owl chooses sparsities of single "
          + "weights per group of layers, but sweep.criterion " + sweep.criterion() + " prunes whole channels; use "
          + "target, tolerance or uniform");
    }
    if (policy.equals("owl") && unit != CostUnit.PARAMETERS) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_UNIT) + ": owl counts its target in parameters; "
          + "use allocation.unit parameters or another policy");
    }
    if (policy.equals("owl") && (target - owlLambda < 0 || target + owlLambda > 1)) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_OWL_LAMBDA) + ": " + owlLambda + " around "
          + "allocation.target " + target + " leaves [0, 1]; lower allocation.owl-lambda");
    }
    if (!structured && !pattern.isNm() && (policy.equals("target") || policy.equals("uniform")) && target > maxSparsity) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_TARGET) + ": " + target + " cannot be reached by "
          + "policy " + policy + " when no tensor goes above " + maxSparsity + " (allocation.max-sparsity, by "
          + "default the largest swept sparsity); lower the target or sweep higher sparsities");
    }
    if (minSpeedup != null && !structured) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_MIN_SPEEDUP) + ": a speed-up needs whole channels "
          + "removed, but sweep.criterion " + sweep.criterion() + " prunes single weights, which make no model "
          + "faster; use a channel criterion (channel-l1, channel-l2, channel-fluctuation, channel-wanda), or set allocation.min-speedup to null");
    }
    if (minSpeedup != null && !policy.equals("target")) {
      throw new InvalidInputException(label(ConfigKeys.ALLOCATION_MIN_SPEEDUP) + ": only policy target takes a "
          + "speed-up constraint, found allocation.policy " + policy + "; use target or set allocation.min-speedup "
          + "to null");
    }
    // min-speedup alone asks for speed, not for the default target's cost
    boolean targetNamed = minSpeedup == null || given.containsKey(ConfigKeys.ALLOCATION_TARGET.name());
    AllocationConfig allocation = new AllocationConfig(policy, target, targetNamed, tolerance, maxSparsity, unit,
        minSpeedup,
        latencyBatch, latencySequence, owlM, owlLambda);
    return new LopperConfig(model, data, sweep, calibration, metric, allocation, gate, output, runtime, spark);
  }

  /**
   * An N:M pattern makes each tensor dense or N:M: refused with what cannot hold it (channels, one
   * threshold over all tensors, OWL's graded sparsities).
   */
  private void checkPattern(SweepConfig sweep, String policy, boolean structured) {
    String pattern = label(ConfigKeys.SWEEP_PATTERN) + ": pattern " + sweep.pattern();
    if (structured) {
      throw new InvalidInputException(pattern + " prunes single weights, but sweep.criterion " + sweep.criterion()
          + " prunes whole channels; use a criterion of single weights (magnitude, wanda, sparsegpt)");
    }
    if (sweep.criterion().equals("global-magnitude") || policy.equals("global-magnitude")) {
      throw new InvalidInputException(pattern + " fixes every tensor's sparsity at " + sweep.pattern().sparsity()
          + ", which one global magnitude threshold cannot hold; use sweep.criterion magnitude with policy uniform");
    }
    if (policy.equals("owl")) {
      throw new InvalidInputException(pattern + " fixes every tensor's sparsity at " + sweep.pattern().sparsity()
          + ", so owl's graded sparsities cannot apply; use policy uniform (every tensor N:M) or target");
    }
  }

  private void checkInputs(LopperConfig config, Configuration hadoop) {
    checkExists(ConfigKeys.MODEL_ONNX, config.model().onnx(), false, hadoop);
    if (config.model().weights() != null) {
      checkExists(ConfigKeys.MODEL_WEIGHTS, config.model().weights(), false, hadoop);
    }
    checkExists(ConfigKeys.DATA_PATH, config.data().path(), true, hadoop);
    if (config.calibration().data() != null) {
      checkExists(ConfigKeys.CALIBRATION_DATA, config.calibration().data(), true, hadoop);
    }
    if (config.calibration().from() != null) {
      checkExists(ConfigKeys.CALIBRATION_FROM, config.calibration().from(), true, hadoop);
    }
    checkOutputApart(config, hadoop);
  }

  /** The run directory must neither hold nor sit inside an input: overwriting would delete it. */
  private void checkOutputApart(LopperConfig config, Configuration hadoop) {
    String output = qualified(config.output().dir(), hadoop);
    Map<Key<String>, String> inputs = new LinkedHashMap<>();
    inputs.put(ConfigKeys.MODEL_ONNX, config.model().onnx());
    if (config.model().weights() != null) {
      inputs.put(ConfigKeys.MODEL_WEIGHTS, config.model().weights());
    }
    inputs.put(ConfigKeys.DATA_PATH, config.data().path());
    if (config.calibration().data() != null) {
      inputs.put(ConfigKeys.CALIBRATION_DATA, config.calibration().data());
    }
    if (config.calibration().from() != null) {
      inputs.put(ConfigKeys.CALIBRATION_FROM, config.calibration().from());
    }
    for (Map.Entry<Key<String>, String> input : inputs.entrySet()) {
      String path = qualified(input.getValue(), hadoop);
      if (path.equals(output) || path.startsWith(output + "/")) {
        throw new InvalidInputException(label(ConfigKeys.OUTPUT_DIR) + ": " + config.output().dir() + " holds the "
            + "input " + input.getKey().name() + " " + input.getValue() + "; choose an output directory apart from "
            + "the inputs");
      }
      if (output.startsWith(path + "/")) {
        throw new InvalidInputException(label(ConfigKeys.OUTPUT_DIR) + ": " + config.output().dir() + " lies inside "
            + "the input " + input.getKey().name() + " " + input.getValue() + "; choose an output directory apart "
            + "from the inputs");
      }
    }
  }

  private static String qualified(String path, Configuration hadoop) {
    return HadoopFiles.qualified(path, hadoop);
  }

  private void checkExists(Key<String> key, String path, boolean directoryAllowed, Configuration hadoop) {
    FileStatus status;
    try {
      status = HadoopFiles.fileSystem(path, hadoop).getFileStatus(new Path(path));
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(label(key) + ": no such file: " + path);
    } catch (InvalidInputException e) {
      throw new InvalidInputException(label(key) + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(label(key) + ": cannot read " + path + ": " + e.getMessage(), e);
    }
    if (status.isDirectory() && !directoryAllowed) {
      throw new InvalidInputException(label(key) + ": " + path + " is a directory; expected a file");
    }
  }

  // ---- messages ----

  /** "; did you mean 'x'?" for the closest known key, or the known keys of the section. */
  private static String suggestion(String unknown) {
    List<String> candidates = new ArrayList<>(ConfigKeys.names());
    candidates.addAll(ConfigKeys.sections());
    Optional<String> close = ClosestName.among(unknown, candidates);
    if (close.isPresent()) {
      return "; did you mean '" + close.get() + "'?";
    }
    String leaf = unknown.substring(unknown.lastIndexOf('.') + 1);
    for (Key<?> key : ConfigKeys.ALL) {
      if (ClosestName.distance(key.leaf(), leaf) <= 1) {
        return "; did you mean '" + key.name() + "'?";
      }
    }
    int dot = unknown.lastIndexOf('.');
    String section = dot < 0 ? "" : unknown.substring(0, dot);
    List<String> inSection = ConfigKeys.ALL.stream().filter(k -> k.section().equals(section)).map(Key::leaf).toList();
    if (!inSection.isEmpty() && !section.isEmpty()) {
      return "; known keys in " + section + ": " + String.join(", ", inSection);
    }
    return "; known sections: " + String.join(", ", ConfigKeys.sections()) + ", and the key metric";
  }

  private static String firstLine(String message) {
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  private static String locationOf(JsonProcessingException e) {
    return e.getLocation() == null ? ""
        : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
  }
}
