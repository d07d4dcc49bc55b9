package dev.lopper.jobs.config;

import dev.lopper.InvalidInputException;
import java.util.Objects;

/**
 * One value given on the command line, applied over the configuration file.
 *
 * @param key the dotted key, e.g. {@code sweep.sparsities}, or {@code spark.conf.<name>}
 * @param value the value as typed; parsed as a YAML scalar or flow list for non-string keys
 *     ({@code [0.5, 0.9]}, {@code 256}, {@code null})
 * @param origin where it came from, for messages: {@code --set} or the flag, e.g. {@code --model}
 */
public record ConfigOverride(String key, String value, String origin) {

  public ConfigOverride {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(origin, "origin");
  }

  /** Parses {@code key=value} as given to {@code --set}. */
  public static ConfigOverride parse(String keyEqualsValue) {
    int eq = keyEqualsValue.indexOf('=');
    if (eq <= 0) {
      throw new InvalidInputException("--set expects key=value, e.g. --set data.batch-size=128; found '"
          + keyEqualsValue + "'");
    }
    return new ConfigOverride(keyEqualsValue.substring(0, eq).trim(), keyEqualsValue.substring(eq + 1), "--set");
  }

  /** The value given by command-line flag {@code flag}, e.g. {@code --model}, for the key it sets. */
  public static ConfigOverride ofFlag(String flag, String value) {
    Key<?> key = ConfigKeys.byFlag(flag)
        .orElseThrow(() -> new IllegalArgumentException("no configuration key has flag " + flag));
    return new ConfigOverride(key.name(), value, flag);
  }
}
