package dev.lopper.jobs.cluster;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Writes small jars from class directories, for applications that tests submit to a cluster. */
public final class Jars {
  private Jars() {}

  /**
   * Writes {@code jar} with the files under {@code classesDir} whose relative path (with {@code /}
   * separators, e.g. {@code dev/lopper/jobs/cluster/ProbeApp.class}) passes {@code include}.
   *
   * @return {@code jar}
   * @throws IllegalArgumentException if no file passes the filter
   */
  public static Path write(Path jar, Path classesDir, Predicate<String> include) {
    try (Stream<Path> walk = Files.walk(classesDir)) {
      List<Path> files = walk.filter(Files::isRegularFile)
          .filter(f -> include.test(relative(classesDir, f)))
          .sorted()
          .collect(Collectors.toList());
      if (files.isEmpty()) {
        throw new IllegalArgumentException("no file under " + classesDir + " passes the filter for " + jar);
      }
      Files.createDirectories(jar.toAbsolutePath().getParent());
      Manifest manifest = new Manifest();
      manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
      try (OutputStream out = Files.newOutputStream(jar);
          JarOutputStream jarOut = new JarOutputStream(out, manifest)) {
        for (Path f : files) {
          jarOut.putNextEntry(new JarEntry(relative(classesDir, f)));
          Files.copy(f, jarOut);
          jarOut.closeEntry();
        }
      }
      return jar;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + jar + " from " + classesDir, e);
    }
  }

  /** Returns {@code entry} itself when it is a jar, or a jar of its files when it is a classes directory. */
  public static Path asJar(Path entry, Path jarDir) {
    if (!Files.isDirectory(entry)) {
      return entry;
    }
    Path absolute = entry.toAbsolutePath().normalize();
    Path module = absolute.getParent() == null ? null : absolute.getParent().getParent();
    String name = (module == null || module.getFileName() == null ? "classes" : module.getFileName() + "-"
        + absolute.getFileName()) + ".jar";
    return write(jarDir.resolve(name), entry, path -> true);
  }

  private static String relative(Path root, Path file) {
    return root.relativize(file).toString().replace(java.io.File.separatorChar, '/');
  }
}
