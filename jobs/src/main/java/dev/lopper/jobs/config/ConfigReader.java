package dev.lopper.jobs.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.criteria.Criteria;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.config.ConfigKeys.Key;
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
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * Turns a YAML document and command-line overrides into a checked {@link LopperConfig}.
 *
 * <p>Every value is converted by the type in {@link ConfigKeys}; every error is one {@link
 * InvalidInputException} naming the key and where its value came from (the file, {@code --set} or a
 * flag).
 */
final class ConfigReader {

  private static final YAMLMapper YAML = YAMLMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();
  private static final String SPARK_CONF = "spark.conf";

  /** A value as given, with where it came from. */
  private record Given(JsonNode node, String label) {}

  private final String source;
  private final Map<String, Given> given = new LinkedHashMap<>();
  private final Map<String, String> sparkConf = new LinkedHashMap<>();
  private final Map<String, Object> values = new LinkedHashMap<>();

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
              + found(root));
        }
        flatten((ObjectNode) root, "");
      }
    }
    for (ConfigOverride override : overrides) {
      applyOverride(override);
    }
    for (Key key : ConfigKeys.ALL) {
      if (key.type() == Type.STRING_MAP) {
        continue;
      }
      Given value = given.get(key.name());
      values.put(key.name(), value == null ? key.defaultValue() : convert(key, value));
    }
    values.put(SPARK_CONF, sparkConf);
    return this;
  }

  // ---- collecting values ----

  private void flatten(ObjectNode node, String prefix) {
    Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = prefix + field.getKey();
      JsonNode value = field.getValue();
      if (name.equals(SPARK_CONF)) {
        collectSparkConf(value, "", where() + ": " + SPARK_CONF);
      } else if (ConfigKeys.find(name).isPresent()) {
        given.put(name, new Given(value, where() + ": " + name));
      } else if (ConfigKeys.sections().contains(name)) {
        if (!value.isObject()) {
          throw new InvalidInputException(where() + ": " + name + ": expected a mapping of " + name
              + ".* keys, found " + found(value));
        }
        flatten((ObjectNode) value, name + ".");
      } else {
        throw new InvalidInputException(where() + ": unknown key '" + name + "'" + suggestion(name));
      }
    }
  }

  private void collectSparkConf(JsonNode node, String prefix, String label) {
    if (node.isNull() && prefix.isEmpty()) {
      return;
    }
    if (!node.isObject()) {
      throw new InvalidInputException(label + ": expected " + Type.STRING_MAP.description() + ", e.g. "
          + "spark.executor.memory: 4g; found " + found(node));
    }
    Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = prefix + field.getKey();
      JsonNode value = field.getValue();
      if (value.isObject()) {
        collectSparkConf(value, name + ".", label);
      } else if (value.isValueNode() && !value.isNull()) {
        sparkConf.put(name, value.asText());
      } else {
        throw new InvalidInputException(label + "." + name + ": expected a single value, found " + found(value));
      }
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
      collectSparkConf(parseValue(override.value()), "", label);
      return;
    }
    Key key = ConfigKeys.find(name).orElseThrow(() -> new InvalidInputException(
        override.origin() + ": unknown key '" + name + "'" + suggestion(name)));
    given.put(name, new Given(overrideNode(key, override.value()), label));
  }

  /** Strings are taken as typed (only "null" and "~" mean null); other values are parsed as YAML. */
  private static JsonNode overrideNode(Key key, String raw) {
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

  // ---- converting values ----

  private Object convert(Key key, Given value) {
    JsonNode node = value.node();
    if (node == null || node.isNull()) {
      if (key.nullable()) {
        return null;
      }
      throw wrongType(key, value);
    }
    switch (key.type()) {
      case PATH, STRING -> {
        String text = scalarText(key, value);
        if (text.isEmpty()) {
          if (key.nullable()) {
            return null;
          }
          throw new InvalidInputException(value.label() + ": must not be empty; expected " + key.expected());
        }
        return text;
      }
      case NAME -> {
        String text = scalarText(key, value);
        if (!key.choices().contains(text)) {
          throw new InvalidInputException(value.label() + ": unknown name '" + text + "'; expected one of "
              + String.join(", ", key.choices()));
        }
        return text;
      }
      case BOOLEAN -> {
        if (node.isBoolean()) {
          return node.booleanValue();
        }
        if (node.isTextual() && (node.asText().equalsIgnoreCase("true") || node.asText().equalsIgnoreCase("false"))) {
          return Boolean.parseBoolean(node.asText());
        }
        throw wrongType(key, value);
      }
      case POSITIVE_INT, NON_NEGATIVE_INT -> {
        Long n = integer(node);
        long min = key.type() == Type.POSITIVE_INT ? 1 : 0;
        if (n == null || n < min || n > Integer.MAX_VALUE) {
          throw wrongType(key, value);
        }
        return n.intValue();
      }
      case OPEN_FRACTION, FRACTION, NON_NEGATIVE_NUMBER, SPEEDUP -> {
        Double x = number(node);
        if (x == null || !inRange(key.type(), x)) {
          throw wrongType(key, value);
        }
        return x;
      }
      case FRACTION_LIST -> {
        List<JsonNode> items = items(node);
        if (items.isEmpty()) {
          throw new InvalidInputException(value.label() + ": the sparsity grid is empty; expected " + key.expected());
        }
        TreeSet<Double> grid = new TreeSet<>();
        for (JsonNode item : items) {
          Double x = number(item);
          if (x == null || !inRange(Type.FRACTION, x)) {
            throw new InvalidInputException(value.label() + ": expected " + key.expected() + ", found "
                + found(item) + " in " + found(node));
          }
          grid.add(x);
        }
        return List.copyOf(grid);
      }
      case SHAPE -> {
        List<JsonNode> items = items(node);
        List<Long> shape = new ArrayList<>();
        for (JsonNode item : items) {
          Long d = integer(item);
          if (d == null || d < 1) {
            throw wrongType(key, value);
          }
          shape.add(d);
        }
        if (shape.isEmpty()) {
          throw wrongType(key, value);
        }
        return List.copyOf(shape);
      }
      case STRING_LIST -> {
        List<String> strings = new ArrayList<>();
        for (JsonNode item : items(node)) {
          if (!item.isValueNode() || item.isNull() || item.asText().isEmpty()) {
            throw new InvalidInputException(value.label() + ": expected " + key.expected() + ", found "
                + found(item) + " in " + found(node));
          }
          strings.add(item.asText());
        }
        return List.copyOf(strings);
      }
      default -> throw new IllegalStateException("no conversion for " + key.type());
    }
  }

  private static boolean inRange(Type type, double x) {
    return switch (type) {
      case OPEN_FRACTION -> x > 0 && x < 1;
      case FRACTION -> x > 0 && x <= 1;
      case NON_NEGATIVE_NUMBER -> x >= 0 && Double.isFinite(x);
      case SPEEDUP -> x > 1 && Double.isFinite(x);
      default -> throw new IllegalStateException(type.name());
    };
  }

  private static String scalarText(Key key, Given value) {
    JsonNode node = value.node();
    if (!node.isValueNode()) {
      throw wrongType(key, value);
    }
    return node.asText();
  }

  private static List<JsonNode> items(JsonNode node) {
    List<JsonNode> items = new ArrayList<>();
    if (node.isArray()) {
      node.forEach(items::add);
    } else {
      items.add(node);
    }
    return items;
  }

  private static Long integer(JsonNode node) {
    if (node.isIntegralNumber() && node.canConvertToLong()) {
      return node.longValue();
    }
    if (node.isTextual()) {
      try {
        return Long.parseLong(node.asText().trim());
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return null;
  }

  private static Double number(JsonNode node) {
    if (node.isNumber()) {
      return node.doubleValue();
    }
    if (node.isTextual()) {
      try {
        return Double.parseDouble(node.asText().trim());
      } catch (NumberFormatException e) {
        return null;
      }
    }
    return null;
  }

  private static InvalidInputException wrongType(Key key, Given value) {
    return new InvalidInputException(value.label() + ": expected " + key.expected() + ", found " + found(value.node()));
  }

  private static String found(JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return "null";
    }
    return node.isValueNode() ? "'" + node.asText() + "'" : node.toString();
  }

  // ---- building and cross-checking ----

  private String label(String key) {
    Given value = given.get(key);
    return value != null ? value.label() : key;
  }

  @SuppressWarnings("unchecked")
  private LopperConfig build() {
    for (Key key : ConfigKeys.ALL) {
      if (key.required() && values.get(key.name()) == null) {
        String how = key.flag() == null ? "--set " + key.name() + "=..." : key.flag();
        throw new InvalidInputException((source == null ? "" : source + ": ") + "missing required key "
            + key.name() + " (set it in the configuration file or pass " + how + ")");
      }
    }
    if (((List<String>) values.get("model.include")).isEmpty()) {
      throw new InvalidInputException(label("model.include") + ": the list is empty, so no tensor would be "
          + "pruned; use [\"*\"] for every prunable tensor");
    }
    DecisionMetric metric = DecisionMetric.fromName((String) values.get("metric"));
    if (metric.needsLabels() && values.get("data.label") == null) {
      throw new InvalidInputException(label("metric") + ": metric " + metric.configName() + " needs labels but "
          + "data.label is empty; name the label column or use metric kl");
    }
    List<Double> grid = (List<Double>) values.get("sweep.sparsities");
    double largest = grid.get(grid.size() - 1);
    Double maxSparsity = (Double) values.get("allocation.max-sparsity");
    if (maxSparsity == null) {
      maxSparsity = largest;
    } else if (maxSparsity > largest) {
      throw new InvalidInputException(label("allocation.max-sparsity") + ": " + maxSparsity + " is above the "
          + "largest swept sparsity " + largest + ", where the drop is unmeasured; sweep higher sparsities "
          + "or lower allocation.max-sparsity");
    }
    String policy = (String) values.get("allocation.policy");
    double target = (Double) values.get("allocation.target");
    CostUnit unit = CostUnit.fromName((String) values.get("allocation.unit"));
    boolean structured = Criteria.byName((String) values.get("sweep.criterion")) instanceof ChannelCriterion;
    if (policy.equals("global-magnitude") && structured) {
      throw new InvalidInputException(label("allocation.policy") + ": global-magnitude prunes single weights, but "
          + "sweep.criterion " + values.get("sweep.criterion") + " prunes whole channels; use target, tolerance or "
          + "uniform");
    }
    if (policy.equals("global-magnitude") && unit != CostUnit.PARAMETERS) {
      throw new InvalidInputException(label("allocation.unit") + ": global-magnitude counts its target in parameters; "
          + "use allocation.unit parameters or another policy");
    }
    // With channel groups the target is a fraction of the whole model, reached through calibration,
    // so the cap on each group's sparsity does not bound it this simply.
    if (!structured && (policy.equals("target") || policy.equals("uniform")) && target > maxSparsity) {
      throw new InvalidInputException(label("allocation.target") + ": " + target + " cannot be reached by policy "
          + policy + " when no tensor goes above " + maxSparsity + " (allocation.max-sparsity, by default the "
          + "largest swept sparsity); lower the target or sweep higher sparsities");
    }
    Double minSpeedup = (Double) values.get("allocation.min-speedup");
    if (minSpeedup != null && !structured) {
      throw new InvalidInputException(label("allocation.min-speedup") + ": a speed-up needs whole channels removed, "
          + "but sweep.criterion " + values.get("sweep.criterion") + " prunes single weights, which make no model "
          + "faster; use sweep.criterion channel-l1 or channel-l2, or set allocation.min-speedup to null");
    }
    if (minSpeedup != null && !policy.equals("target")) {
      throw new InvalidInputException(label("allocation.min-speedup") + ": only policy target takes a speed-up "
          + "constraint, found allocation.policy " + policy + "; use target or set allocation.min-speedup to null");
    }
    return new LopperConfig(
        new ModelConfig((String) values.get("model.onnx"), (String) values.get("model.weights"),
            (List<String>) values.get("model.include"), (List<String>) values.get("model.exclude")),
        new DataConfig((String) values.get("data.path"), (String) values.get("data.features"),
            (String) values.get("data.label"), (List<Long>) values.get("data.input-shape"),
            (Integer) values.get("data.batch-size"), (Integer) values.get("data.partitions")),
        new SweepConfig((String) values.get("sweep.criterion"), grid, (Integer) values.get("sweep.tensors-per-task")),
        metric,
        new AllocationConfig(policy, target, (Double) values.get("allocation.tolerance"), maxSparsity, unit,
            minSpeedup, (Integer) values.get("allocation.latency-batch")),
        new GateConfig((Double) values.get("gate.max-drop")),
        new OutputConfig((String) values.get("output.dir"), (Boolean) values.get("output.overwrite"),
            (Boolean) values.get("output.name-by-date")),
        new RuntimeConfig((Integer) values.get("runtime.threads")),
        new SparkConfig((String) values.get("spark.master"), (Map<String, String>) values.get(SPARK_CONF)));
  }

  private void checkInputs(LopperConfig config, Configuration hadoop) {
    checkExists("model.onnx", config.model().onnx(), false, hadoop);
    if (config.model().weights() != null) {
      checkExists("model.weights", config.model().weights(), false, hadoop);
    }
    checkExists("data.path", config.data().path(), true, hadoop);
    checkOutputApart(config, hadoop);
  }

  /** The run directory must neither hold nor sit inside an input: overwriting would delete it. */
  private void checkOutputApart(LopperConfig config, Configuration hadoop) {
    String output = qualified(config.output().dir(), hadoop);
    Map<String, String> inputs = new LinkedHashMap<>();
    inputs.put("model.onnx", config.model().onnx());
    if (config.model().weights() != null) {
      inputs.put("model.weights", config.model().weights());
    }
    inputs.put("data.path", config.data().path());
    for (Map.Entry<String, String> input : inputs.entrySet()) {
      String path = qualified(input.getValue(), hadoop);
      if (path.equals(output) || path.startsWith(output + "/")) {
        throw new InvalidInputException(label("output.dir") + ": " + config.output().dir() + " holds the input "
            + input.getKey() + " " + input.getValue() + "; choose an output directory apart from the inputs");
      }
      if (output.startsWith(path + "/")) {
        throw new InvalidInputException(label("output.dir") + ": " + config.output().dir() + " lies inside the input "
            + input.getKey() + " " + input.getValue() + "; choose an output directory apart from the inputs");
      }
    }
  }

  private static String qualified(String path, Configuration hadoop) {
    return HadoopFiles.qualified(path, hadoop);
  }

  private void checkExists(String key, String path, boolean directoryAllowed, Configuration hadoop) {
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
    for (Key key : ConfigKeys.ALL) {
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
