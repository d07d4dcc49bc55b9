package dev.lopper.jobs.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How Lopper starts Spark (keys {@code spark.*}).
 *
 * @param master the master when Lopper starts Spark itself, or null for {@code local[*]}; ignored
 *     when spark-submit already set one
 * @param conf extra Spark settings, in the order given
 */
public record SparkConfig(String master, Map<String, String> conf) {

  public SparkConfig {
    conf = Collections.unmodifiableMap(new LinkedHashMap<>(conf));
  }
}
