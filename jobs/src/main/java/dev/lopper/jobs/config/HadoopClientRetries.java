package dev.lopper.jobs.config;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * Bounds on how long the Hadoop client keeps retrying a file system it cannot reach, so that an
 * HDFS namenode that is down ends a run within seconds with "unavailable" instead of minutes of
 * silence. Hadoop's own defaults retry a refused connection 10 times a second apart and a
 * connection that times out (20 s each) 45 times, about 15 minutes. Lopper's: 2 retries either
 * way, 5 s to connect, so a refused connection fails after about 2 s and an unanswered one after
 * about 15 s. A value set by the user ({@code spark.hadoop.*}) or the site ({@code core-site.xml})
 * is kept.
 */
public final class HadoopClientRetries {

  /** Hadoop client key to Lopper's bound, in the order they are applied. */
  public static final Map<String, String> BOUNDS = bounds();

  private HadoopClientRetries() {}

  private static Map<String, String> bounds() {
    Map<String, String> b = new LinkedHashMap<>();
    b.put("ipc.client.connect.max.retries", "2");
    b.put("ipc.client.connect.max.retries.on.timeouts", "2");
    b.put("ipc.client.connect.timeout", "5000");
    return java.util.Collections.unmodifiableMap(b);
  }

  /** Sets each bound in {@code conf} whose key only Hadoop's defaults set. */
  public static void bound(Configuration conf) {
    BOUNDS.forEach((key, value) -> {
      if (onlyDefault(conf, key)) {
        conf.set(key, value, "Lopper's bound on client retries");
      }
    });
  }

  /**
   * The {@code spark.hadoop.*} settings that give Spark's Hadoop configuration (the driver's, and
   * through it the executors') the same bounds: those that neither {@code sparkConf} nor a system
   * property ({@code spark-submit --conf}) sets, and that the site configuration the driver sees
   * leaves at Hadoop's default.
   */
  public static Map<String, String> sparkSettings(Map<String, String> sparkConf) {
    Configuration site = new Configuration();
    Map<String, String> out = new LinkedHashMap<>();
    BOUNDS.forEach((key, value) -> {
      String name = "spark.hadoop." + key;
      if (!sparkConf.containsKey(name) && System.getProperty(name) == null && onlyDefault(site, key)) {
        out.put(name, value);
      }
    });
    return out;
  }

  private static boolean onlyDefault(Configuration conf, String key) {
    String[] sources = conf.getPropertySources(key);
    return sources == null || (sources.length == 1 && sources[0].equals("core-default.xml"));
  }
}
