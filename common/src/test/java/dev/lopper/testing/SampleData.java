package dev.lopper.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the repository's sample models, validation data and reference tables in {@code data/}. */
public final class SampleData {
  private SampleData() {}

  /** The repository's {@code data/} directory, found from the working directory upwards. */
  public static Path dir() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      Path candidate = p.resolve("data");
      if (Files.isRegularFile(candidate.resolve("make_samples.py"))) {
        return candidate;
      }
      p = p.getParent();
    }
    throw new IllegalStateException("no data/ directory with make_samples.py above " + Path.of("").toAbsolutePath());
  }

  /** A file in {@code data/}, as a path string usable by Lopper's Hadoop-based readers. */
  public static String file(String name) {
    return dir().resolve(name).toString();
  }

  /** True when {@code /usr/bin/python3} can import {@code module}. */
  public static boolean pythonHas(String module) {
    try {
      Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import " + module)
          .redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor() == 0;
    } catch (Exception e) {
      return false;
    }
  }
}
