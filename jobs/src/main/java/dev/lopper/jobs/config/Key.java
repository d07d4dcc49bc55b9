package dev.lopper.jobs.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lopper.InvalidInputException;
import dev.lopper.jobs.config.ConfigKeys.Type;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One configuration key whose value is a {@code T}: its name, how a given value becomes a {@code T}
 * (a parser, then a check), its default, and what the reference says about it.
 *
 * <pre>{@code
 * Key<Integer> batchSize = Key.builder("data.batch-size", Type.POSITIVE_INT, Parsers.INTEGER)
 *     .check(Key.Check.fits(n -> n >= 1))
 *     .doc("Rows per forward pass.")
 *     .valueIn(c -> c.data().batchSize())
 *     .withDefault(256);
 * int rows = batchSize.read(node, "--set data.batch-size");
 *     // or InvalidInputException: "--set data.batch-size: expected a positive integer, found '0'"
 * int unset = batchSize.defaultValue();   // 256, for when the key is not given
 * }</pre>
 *
 * <p>As with Spark's {@code ConfigEntry}, the key that names a setting also converts it, so the
 * reader asks each key for its {@code T} and casts nothing, and a default or a record accessor of
 * the wrong type does not compile. The keys are listed once, in {@link ConfigKeys#ALL}, which drives
 * the reader, the reference in {@code docs/configuration.md}, {@code lopper help config} and the
 * manifest's record of the configuration ({@link LopperConfig#asMap}).
 *
 * @param <T> the type of the key's value
 */
public final class Key<T> {

  /** Turns a given value, never null, into a {@code T}, or refuses it through {@link Input}. */
  @FunctionalInterface
  interface Parser<T> {

    /** The value; null only for an empty string, which a nullable key takes as null and others refuse. */
    T parse(Input input);
  }

  /** Refuses a parsed value that does not fit the key, by throwing what {@link Input} makes. */
  @FunctionalInterface
  interface Check<T> {

    /** Returns when {@code value} fits; throws an {@link InvalidInputException} otherwise. */
    void check(T value, Input input);

    /** A check refusing values that fail {@code fits} with "expected ..., found ...". */
    static <T> Check<T> fits(Predicate<? super T> fits) {
      return (value, input) -> {
        if (!fits.test(value)) {
          throw input.mismatch();
        }
      };
    }
  }

  /**
   * A value given for a key: the YAML node, where it came from ("--set data.batch-size",
   * "conf/x.yaml: data.batch-size") and what the key expects, so that every refusal names all three.
   *
   * @param node the value, never null
   * @param label where it came from, with the key's name
   * @param expected what a value of the key looks like, e.g. "a positive integer"
   */
  record Input(JsonNode node, String label, String expected) {

    /** "label: expected a positive integer, found '0'". */
    InvalidInputException mismatch() {
      return refused("expected " + expected + ", found " + found(node));
    }

    /** "label: expected a list of strings, found '' in ["a",""]", for one item of a list. */
    InvalidInputException mismatch(JsonNode item) {
      return refused("expected " + expected + ", found " + found(item) + " in " + found(node));
    }

    /** "label: " followed by {@code detail}. */
    InvalidInputException refused(String detail) {
      return new InvalidInputException(label + ": " + detail);
    }

    /** A value as messages quote it: null, 'scalar', or a list or mapping as JSON. */
    static String found(JsonNode node) {
      if (node == null || node.isNull() || node.isMissingNode()) {
        return "null";
      }
      return node.isValueNode() ? "'" + node.asText() + "'" : node.toString();
    }
  }

  private final String name;
  private final Type type;
  private final Parser<T> parser;
  private final Check<? super T> check;
  private final T defaultValue;
  private final boolean required;
  private final boolean nullable;
  private final List<String> choices;
  private final String flag;
  private final String doc;
  private final Function<LopperConfig, T> valueIn;

  private Key(Builder<T> builder, T defaultValue, boolean required, boolean nullable) {
    this.name = builder.name;
    this.type = builder.type;
    this.parser = builder.parser;
    this.check = builder.check;
    this.defaultValue = defaultValue;
    this.required = required;
    this.nullable = nullable;
    this.choices = builder.choices;
    this.flag = builder.flag;
    this.doc = Objects.requireNonNull(builder.doc, () -> name + " has no doc");
    this.valueIn = Objects.requireNonNull(builder.valueIn, () -> name + " has no record accessor");
  }

  /** Starts a key named {@code name} of kind {@code type}, whose given values {@code parser} reads. */
  static <T> Builder<T> builder(String name, Type type, Parser<T> parser) {
    return new Builder<>(name, type, parser);
  }

  /**
   * The value given as {@code node}, parsed and checked.
   *
   * @param node the value as given (YAML null for null), never Java null
   * @param label where it came from, with the key's name, e.g. {@code --set data.batch-size}
   * @throws InvalidInputException naming the label, the value and what was expected
   */
  T read(JsonNode node, String label) {
    Input input = new Input(node, label, expected());
    if (node.isNull()) {
      if (nullable) {
        return null;
      }
      throw input.mismatch();
    }
    T value = parser.parse(input);
    if (value == null) {
      if (nullable) {
        return null;
      }
      throw input.refused("must not be empty; expected " + expected());
    }
    check.check(value, input);
    return value;
  }

  /** This key's value in {@code config}, as run: what the manifest and {@link LopperConfig#toYaml} record. */
  T valueIn(LopperConfig config) {
    return valueIn.apply(config);
  }

  /** The dotted name, e.g. {@code data.batch-size}. */
  public String name() {
    return name;
  }

  /** The kind of value, which names it in messages and the reference. */
  public Type type() {
    return type;
  }

  /** The value when the key is not given; null for keys that are required or default to null. */
  public T defaultValue() {
    return defaultValue;
  }

  /** True when the run cannot start without a value. */
  public boolean required() {
    return required;
  }

  /** True when null is a meaningful value (then it may also be given explicitly). */
  public boolean nullable() {
    return nullable;
  }

  /** The allowed names of a {@link Type#NAME} key; empty for other keys. */
  public List<String> choices() {
    return choices;
  }

  /** The command-line flag that sets this key, e.g. {@code --model}, or null. */
  public String flag() {
    return flag;
  }

  /** One or two sentences for the reference. */
  public String doc() {
    return doc;
  }

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

  @Override
  public String toString() {
    return name;
  }

  /**
   * Describes a key step by step and makes it with one of {@link #required()}, {@link
   * #withDefault} or {@link #optional}, as Spark's {@code ConfigBuilder} does with {@code
   * createOptional} and {@code createWithDefault}.
   *
   * @param <T> the type of the key's value
   */
  static final class Builder<T> {
    private final String name;
    private final Type type;
    private final Parser<T> parser;
    private Check<? super T> check = (value, input) -> { };
    private List<String> choices = List.of();
    private String flag;
    private String doc;
    private Function<LopperConfig, T> valueIn;

    private Builder(String name, Type type, Parser<T> parser) {
      this.name = Objects.requireNonNull(name, "name");
      this.type = Objects.requireNonNull(type, "type");
      this.parser = Objects.requireNonNull(parser, "parser");
    }

    /** Refuses parsed values that {@code check} refuses. */
    Builder<T> check(Check<? super T> check) {
      this.check = Objects.requireNonNull(check, "check");
      return this;
    }

    /** The names a {@link Type#NAME} key allows, for messages and the reference. */
    Builder<T> choices(List<String> choices) {
      this.choices = List.copyOf(choices);
      return this;
    }

    /** The command-line flag that sets the key, e.g. {@code --model}. */
    Builder<T> flag(String flag) {
      this.flag = flag;
      return this;
    }

    /** One or two sentences for the reference; {@code `code`} marks are dropped in {@code --help}. */
    Builder<T> doc(String doc) {
      this.doc = doc;
      return this;
    }

    /** Where the value sits in a loaded configuration, for the manifest. */
    Builder<T> valueIn(Function<LopperConfig, T> valueIn) {
      this.valueIn = valueIn;
      return this;
    }

    /** A key the run cannot start without; it has no default and does not take null. */
    Key<T> required() {
      return new Key<>(this, null, true, false);
    }

    /** A key with a default, which does not take null. */
    Key<T> withDefault(T defaultValue) {
      return new Key<>(this, Objects.requireNonNull(defaultValue, "defaultValue"), false, false);
    }

    /** A key that also takes null (for strings also ""), with a default that may be null. */
    Key<T> optional(T defaultOrNull) {
      return new Key<>(this, defaultOrNull, false, true);
    }
  }
}
