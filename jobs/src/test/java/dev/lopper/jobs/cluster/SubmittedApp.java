package dev.lopper.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An application submitted to a {@link StandaloneCluster} in client mode: its driver is a child JVM whose
 * standard output and error go to files.
 */
public final class SubmittedApp implements AutoCloseable {
  private final String name;
  private final Process driver;
  private final Path stdoutFile;
  private final Path stderrFile;
  private final Duration stopTimeout;

  SubmittedApp(String name, Process driver, Path stdoutFile, Path stderrFile, Duration stopTimeout) {
    this.name = name;
    this.driver = driver;
    this.stdoutFile = stdoutFile;
    this.stderrFile = stderrFile;
    this.stopTimeout = stopTimeout;
  }

  /**
   * Waits for the driver to exit.
   *
   * @return the driver's exit code
   * @throws IllegalStateException if it is still running after {@code timeout}; the message holds the tail
   *     of its standard error. The driver keeps running until {@link #close()}.
   */
  public int waitFor(Duration timeout) {
    try {
      if (driver.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        return driver.exitValue();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for " + name, e);
    }
    throw new IllegalStateException(name + " (driver PID " + driver.pid() + ") still runs after " + timeout
        + "\n--- " + stderrFile + " (last lines)\n" + tail(stderrFile, 40));
  }

  /** Whether the driver JVM is still running. */
  public boolean isAlive() {
    return driver.isAlive();
  }

  /** The driver JVM's PID. */
  public long pid() {
    return driver.pid();
  }

  /**
   * Kills the driver JVM with SIGKILL, as a preempted host, an out-of-memory kill or {@code kill -9} would:
   * nothing of it runs afterwards (no shutdown hook, no cleanup). Waits until it has exited.
   */
  public void kill() {
    driver.destroyForcibly();
    StandaloneCluster.awaitExit(driver.toHandle(), stopTimeout);
  }

  /** What the driver has written to standard output so far. */
  public String stdout() {
    return read(stdoutFile);
  }

  /** What the driver has written to standard error so far: Spark's log (warnings and above) and errors. */
  public String stderr() {
    return read(stderrFile);
  }

  /** The file that receives the driver's standard output. */
  public Path stdoutFile() {
    return stdoutFile;
  }

  /** The file that receives the driver's standard error. */
  public Path stderrFile() {
    return stderrFile;
  }

  /** Stops the driver if it is still running (SIGTERM, then SIGKILL after a timeout). */
  @Override
  public void close() {
    if (driver.isAlive()) {
      driver.destroy();
      StandaloneCluster.awaitExit(driver.toHandle(), stopTimeout);
    }
  }

  @Override
  public String toString() {
    return name + " (driver PID " + driver.pid() + ", " + (driver.isAlive() ? "running" : "exited") + ")";
  }

  /** The last {@code lines} lines of a text file, or a note that it cannot be read. */
  static String tail(Path file, int lines) {
    if (!Files.exists(file)) {
      return "(no file)\n";
    }
    List<String> all = read(file).lines().collect(java.util.stream.Collectors.toList());
    StringBuilder text = new StringBuilder();
    for (String line : all.subList(Math.max(0, all.size() - lines), all.size())) {
      text.append(line).append('\n');
    }
    return text.toString();
  }

  private static String read(Path file) {
    try {
      return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
