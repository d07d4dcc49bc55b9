package dev.lopper.jobs.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * One run's configuration: checked, immutable, with every default applied.
 *
 * <pre>{@code
 * LopperConfig config = LopperConfig.load("conf/digits-cnn.yaml", List.of("sweep.sparsities=[0.5,0.9]"));
 * config.allocation().settings();   // what the allocation policy takes
 * config.toYaml();                  // the configuration as run, loadable again
 * }</pre>
 *
 * <p>Keys, types and defaults are listed once, in {@link ConfigKeys}. Values come from a YAML file,
 * then from overrides in the order given (the last one wins). Loading checks every value, the
 * combinations of values (labels for label metrics, a reachable target) and that the input files
 * exist, and reports the first problem as one {@link InvalidInputException} naming the key and where
 * its value came from.
 *
 * @param model the model and the tensors that may be pruned
 * @param data the validation data
 * @param sweep the sensitivity sweep
 * @param calibration the calibration of activation-aware criteria
 * @param metric the metric driving allocation and the quality gate
 * @param allocation the allocation policy and its settings
 * @param gate the quality gate
 * @param output the run directory
 * @param runtime model runtime settings inside tasks
 * @param spark how Spark is started
 */
public record LopperConfig(ModelConfig model, DataConfig data, SweepConfig sweep, CalibrationConfig calibration,
    DecisionMetric metric,
    AllocationConfig allocation, GateConfig gate, OutputConfig output, RuntimeConfig runtime, SparkConfig spark) {

  private static final YAMLMapper YAML_WRITER = YAMLMapper.builder()
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
      .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
      .build();

  /**
   * Loads a configuration: the YAML file (any Hadoop path; null for none), then {@code key=value}
   * overrides as given to {@code --set}, then every check, including that the input files exist.
   */
  public static LopperConfig load(String yamlPathOrNull, List<String> overrides) {
    return load(yamlPathOrNull, overrides.stream().map(ConfigOverride::parse).toList(), null);
  }

  /**
   * Loads a configuration from a YAML file (null for none) and overrides, checking the input files
   * through {@code hadoop} (null: {@link #hadoopConfiguration()} of the loaded configuration).
   */
  public static LopperConfig load(String yamlPathOrNull, List<ConfigOverride> overrides, Configuration hadoop) {
    String text = null;
    if (yamlPathOrNull != null) {
      Configuration forFile = hadoop != null ? hadoop : baseHadoopConfiguration();
      try {
        text = new String(HadoopFiles.readAll(yamlPathOrNull, forFile), StandardCharsets.UTF_8);
      } catch (InvalidInputException e) {
        throw new InvalidInputException("--config: " + e.getMessage(), e);
      }
    }
    return ConfigReader.parseAndCheckInputs(text, yamlPathOrNull, overrides, hadoop);
  }

  /**
   * Parses and checks a configuration without touching any file: for tests and tools.
   *
   * @param yamlText the YAML document, or null or blank for none
   * @param source the document's name for messages, e.g. its path; may be null
   * @param overrides applied after the document, in order
   */
  public static LopperConfig parse(String yamlText, String source, List<ConfigOverride> overrides) {
    return ConfigReader.parse(yamlText, source, overrides);
  }

  /**
   * The configuration as a nested map, every key with its value as run (defaults applied,
   * {@code allocation.max-sparsity} resolved), in the order of {@link ConfigKeys#ALL}. Loading its
   * YAML ({@link #toYaml()}) gives an equal configuration.
   */
  public Map<String, Object> asMap() {
    Map<String, Object> root = new LinkedHashMap<>();
    // The sections' maps are also kept by name with their type, so that filling one needs no cast.
    Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    for (Key<?> key : ConfigKeys.ALL) {
      Object value = key.valueIn(this);
      if (key.section().isEmpty()) {
        root.put(key.name(), value);
        continue;
      }
      Map<String, Object> section = sections.get(key.section());
      if (section == null) {
        section = new LinkedHashMap<>();
        sections.put(key.section(), section);
        root.put(key.section(), section);
      }
      section.put(key.leaf(), value);
    }
    return root;
  }

  /** The configuration as run, as a YAML document that {@link #parse} reads back to an equal value. */
  public String toYaml() {
    try {
      return YAML_WRITER.writeValueAsString(asMap());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write configuration as YAML", e);
    }
  }

  /**
   * The Hadoop configuration for reaching the inputs outside Spark: the defaults on the
   * classpath, then {@code spark.hadoop.*} settings from system properties (set by spark-submit) and
   * from {@code spark.conf}, with the prefix removed, as Spark itself applies them, and Lopper's
   * bounds on the client's retries where none of these set them ({@link #baseHadoopConfiguration}).
   */
  public Configuration hadoopConfiguration() {
    Configuration conf = baseHadoopConfiguration();
    spark.conf().forEach((name, value) -> {
      if (name.startsWith("spark.hadoop.")) {
        conf.set(name.substring("spark.hadoop.".length()), value);
      }
    });
    return conf;
  }

  /**
   * The Hadoop configuration before any configuration file is read (for the file itself, and for
   * commands without one such as {@code tokenize}): the defaults on the classpath, {@code
   * spark.hadoop.*} system properties (set by spark-submit) with the prefix removed, and Lopper's
   * bounds on the client's retries where neither set them ({@link HadoopClientRetries}).
   */
  public static Configuration baseHadoopConfiguration() {
    Configuration conf = new Configuration();
    System.getProperties().stringPropertyNames().stream().sorted()
        .filter(name -> name.startsWith("spark.hadoop."))
        .forEach(name -> conf.set(name.substring("spark.hadoop.".length()), System.getProperty(name)));
    HadoopClientRetries.bound(conf);
    return conf;
  }
}
