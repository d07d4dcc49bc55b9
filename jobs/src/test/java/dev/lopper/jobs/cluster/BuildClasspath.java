package dev.lopper.jobs.cluster;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The build outputs that cluster tests need, as jobs/pom.xml writes them and hands them to failsafe as
 * system properties (with defaults under {@code target/} for a test started from an IDE in the jobs
 * directory).
 *
 * <ul>
 *   <li>{@code lopper.cluster.sparkClasspath}: Spark's runtime jars, one classpath line (maven-dependency-plugin
 *       {@code build-classpath}); they make the test cluster's {@code SPARK_HOME/jars}.
 *   <li>{@code lopper.cluster.appClasspath}: the application's runtime classpath (compile and runtime scopes),
 *       which includes the jars that Spark also brings.
 *   <li>{@code lopper.cluster.testClasses}, {@code lopper.cluster.workRoot}, {@code lopper.cluster.fatJar}.
 * </ul>
 */
public final class BuildClasspath {
  private BuildClasspath() {}

  /** Spark's runtime jars: what an installed Spark's {@code jars/} directory holds. */
  public static List<Path> sparkJars() {
    return readClasspath(property("lopper.cluster.sparkClasspath", "target/spark-classpath.txt"));
  }

  /**
   * The application's runtime jars that Spark does not provide (Lopper's common module, ONNX Runtime, ND4J
   * and their own dependencies): what an application must ship to executors, in a fat jar or with
   * {@code --jars}. An entry may be a classes directory when the reactor has not packaged it.
   */
  public static List<Path> applicationOnlyJars() {
    Set<Path> spark = new HashSet<>(sparkJars());
    List<Path> result = new ArrayList<>();
    for (Path p : readClasspath(property("lopper.cluster.appClasspath", "target/app-classpath.txt"))) {
      if (!spark.contains(p)) {
        result.add(p);
      }
    }
    return result;
  }

  /** The directory of compiled test classes (where {@link ProbeApp} lives). */
  public static Path testClasses() {
    return property("lopper.cluster.testClasses", "target/test-classes");
  }

  /** A directory under which cluster tests make their work directories. */
  public static Path workRoot() {
    return property("lopper.cluster.workRoot", "target/cluster-it");
  }

  /** The shaded application jar ({@code lopper-jobs-<version>-all.jar}); it may not exist yet. */
  public static Path fatJar() {
    return property("lopper.cluster.fatJar", "target/lopper-jobs-all.jar");
  }

  private static Path property(String key, String fallback) {
    return Path.of(System.getProperty(key, fallback)).toAbsolutePath().normalize();
  }

  private static List<Path> readClasspath(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException("classpath file " + file + " does not exist: it is written by"
          + " maven-dependency-plugin in jobs' generate-test-resources phase (run the tests through Maven)");
    }
    try {
      List<Path> entries = new ArrayList<>();
      for (String entry : Files.readString(file).trim().split(File.pathSeparator)) {
        if (!entry.isBlank()) {
          entries.add(Path.of(entry.trim()).toAbsolutePath().normalize());
        }
      }
      if (entries.isEmpty()) {
        throw new IllegalStateException("classpath file " + file + " is empty");
      }
      return entries;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read classpath file " + file, e);
    }
  }
}
