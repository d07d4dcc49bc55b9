package dev.lopper.jobs.output;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The versions of Lopper and of the libraries a run used, for the manifest. */
public final class Versions {

  private Versions() {}

  /** Lopper's own version, from the build. */
  public static String lopper() {
    return property("/dev/lopper/jobs/version.properties", "version");
  }

  /**
   * Lopper, Java, Spark (as given: the running session's), Scala, Hadoop, ONNX Runtime and ND4J.
   * Library versions come from their Maven metadata on the classpath; "unknown" when absent.
   */
  public static Map<String, String> collect(String sparkVersion) {
    Map<String, String> versions = new LinkedHashMap<>();
    versions.put("lopper", lopper());
    versions.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")");
    versions.put("spark", sparkVersion == null ? "unknown" : sparkVersion);
    versions.put("scala", scala());
    versions.put("hadoop", hadoop());
    versions.put("onnxruntime", maven("com.microsoft.onnxruntime", "onnxruntime"));
    versions.put("nd4j", maven("org.nd4j", "nd4j-api"));
    return versions;
  }

  private static String scala() {
    try {
      Class<?> properties = Class.forName("scala.util.Properties");
      return String.valueOf(properties.getMethod("versionNumberString").invoke(null));
    } catch (ReflectiveOperationException | LinkageError e) {
      return "unknown";
    }
  }

  private static String hadoop() {
    try {
      return org.apache.hadoop.util.VersionInfo.getVersion();
    } catch (LinkageError e) {
      return "unknown";
    }
  }

  /** From the artifact's pom.properties, or its pom.xml when the jar has none (ONNX Runtime's). */
  private static String maven(String group, String artifact) {
    String base = "/META-INF/maven/" + group + "/" + artifact + "/";
    String version = property(base + "pom.properties", "version");
    if (!version.equals("unknown")) {
      return version;
    }
    try (InputStream in = Versions.class.getResourceAsStream(base + "pom.xml")) {
      if (in == null) {
        return "unknown";
      }
      String pom = new String(in.readAllBytes(), StandardCharsets.UTF_8).replaceAll("(?s)<parent>.*?</parent>", "");
      Matcher m = Pattern.compile("(?s)<artifactId>" + Pattern.quote(artifact) + "</artifactId>.*?<version>([^<]+)</version>")
          .matcher(pom);
      return m.find() ? m.group(1).trim() : "unknown";
    } catch (IOException e) {
      return "unknown";
    }
  }

  private static String property(String resource, String name) {
    try (InputStream in = Versions.class.getResourceAsStream(resource)) {
      if (in == null) {
        return "unknown";
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty(name, "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }
}
