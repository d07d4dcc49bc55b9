package dev.lopper.jobs.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.InvalidInputException;
import dev.lopper.jobs.config.Key.Input;
import dev.lopper.jobs.config.Key.Parser;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.DoublePredicate;

/**
 * The parsers of configuration values, from a YAML node (as written in the file, or as a
 * {@code --set} value was read) to the Java value a key holds.
 *
 * <p>Numbers and booleans are also taken as strings ({@code "256"}, {@code "true"}), because a
 * value may arrive quoted; a single value stands for a list of one.
 */
final class Parsers {

  /** A string; "" is returned as null, for the key to take as null or refuse as empty. */
  static final Parser<String> TEXT = input -> {
    String text = scalar(input);
    return text.isEmpty() ? null : text;
  };

  /** A string as given, "" included: a name, which the key's check compares with its choices. */
  static final Parser<String> SCALAR = Parsers::scalar;

  /** true or false, in any case. */
  static final Parser<Boolean> BOOLEAN = input -> {
    JsonNode node = input.node();
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    if (node.isTextual() && (node.asText().equalsIgnoreCase("true") || node.asText().equalsIgnoreCase("false"))) {
      return Boolean.parseBoolean(node.asText());
    }
    throw input.mismatch();
  };

  /** A whole number that fits an int. */
  static final Parser<Integer> INTEGER = input -> {
    Long n = integer(input.node());
    if (n == null || n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
      throw input.mismatch();
    }
    return n.intValue();
  };

  /** A number. */
  static final Parser<Double> NUMBER = input -> {
    Double x = number(input.node());
    if (x == null) {
      throw input.mismatch();
    }
    return x;
  };

  /** A list of non-empty strings. */
  static final Parser<List<String>> STRINGS = input -> {
    List<String> strings = new ArrayList<>();
    for (JsonNode item : items(input.node())) {
      if (!item.isValueNode() || item.isNull() || item.asText().isEmpty()) {
        throw input.mismatch(item);
      }
      strings.add(item.asText());
    }
    return List.copyOf(strings);
  };

  /** A non-empty list of positive whole numbers. */
  static final Parser<List<Long>> SHAPE = input -> {
    List<Long> shape = new ArrayList<>();
    for (JsonNode item : items(input.node())) {
      Long d = integer(item);
      if (d == null || d < 1) {
        throw input.mismatch();
      }
      shape.add(d);
    }
    if (shape.isEmpty()) {
      throw input.mismatch();
    }
    return List.copyOf(shape);
  };

  /**
   * Names mapped to single values, nested mappings flattened with dots ({@code spark: {sql.x: 8}}
   * is {@code spark.sql.x}), in the order given.
   */
  static final Parser<Map<String, String>> SETTINGS = input -> {
    JsonNode node = input.node();
    if (!node.isObject()) {
      throw input.refused("expected " + input.expected() + ", e.g. spark.executor.memory: 4g; found "
          + Input.found(node));
    }
    Map<String, String> settings = new LinkedHashMap<>();
    flatten(node, "", input, settings);
    return settings;
  };

  private Parsers() {}

  /** A non-empty grid of numbers that pass {@code fits}, sorted, duplicates dropped. */
  static Parser<List<Double>> grid(DoublePredicate fits) {
    return input -> {
      List<JsonNode> items = items(input.node());
      if (items.isEmpty()) {
        throw input.refused("the sparsity grid is empty; expected " + input.expected());
      }
      TreeSet<Double> grid = new TreeSet<>();
      for (JsonNode item : items) {
        Double x = number(item);
        if (x == null || !fits.test(x)) {
          throw input.mismatch(item);
        }
        grid.add(x);
      }
      return List.copyOf(grid);
    };
  }

  private static String scalar(Input input) {
    if (!input.node().isValueNode()) {
      throw input.mismatch();
    }
    return input.node().asText();
  }

  private static void flatten(JsonNode node, String prefix, Input input, Map<String, String> settings) {
    Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = prefix + field.getKey();
      JsonNode value = field.getValue();
      if (value.isObject()) {
        flatten(value, name + ".", input, settings);
      } else if (value.isValueNode() && !value.isNull()) {
        settings.put(name, value.asText());
      } else {
        throw new InvalidInputException(input.label() + "." + name + ": expected a single value, found "
            + Input.found(value));
      }
    }
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
}
