package dev.lopper.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@code java @argfile}: the JVM options, main class and arguments of a child JVM, so that the child's
 * {@code /proc/self/cmdline} stays a few dozen bytes. ONNX Runtime 1.29 crashes while creating its
 * environment in a JVM whose command line is longer than about 3.9 KB.
 */
final class ArgFile {
  private ArgFile() {}

  /** Writes {@code args} to {@code file}, one per line, quoted as the java launcher reads them. */
  static Path write(Path file, List<String> args) {
    StringBuilder text = new StringBuilder();
    for (String arg : args) {
      text.append(quote(arg)).append('\n');
    }
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, text);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write argument file " + file, e);
    }
  }

  /** Quotes an argument for an argument file: double quotes around it, backslash before \ and ". */
  static String quote(String arg) {
    if (arg.indexOf('\n') >= 0 || arg.indexOf('\r') >= 0) {
      throw new IllegalArgumentException("a JVM argument cannot hold a line break: " + arg);
    }
    boolean plain = !arg.isEmpty() && arg.chars().noneMatch(c -> c == ' ' || c == '\t' || c == '"'
        || c == '\'' || c == '\\' || c == '#');
    if (plain) {
      return arg;
    }
    return '"' + arg.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
