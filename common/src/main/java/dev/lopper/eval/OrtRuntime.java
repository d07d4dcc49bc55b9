package dev.lopper.eval;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process-wide ONNX Runtime environment, created once on first use.
 *
 * <p>ONNX Runtime 1.29's Java binding crashes the JVM (SIGSEGV) while creating its environment
 * when the process's command line ({@code /proc/self/cmdline}) is too long (the lengths that
 * worked and crashed: docs/design.md, "Things measured on this machine that shaped the code").
 * So before creating it this class reads the command line and, when it is longer than
 * {@value #MAX_COMMAND_LINE_BYTES} bytes, throws an exception that says so instead of letting the
 * JVM die.
 */
public final class OrtRuntime {
  /** Longest command line accepted before creating the environment: a little below the crash's. */
  public static final int MAX_COMMAND_LINE_BYTES = 3900;

  private static final Path COMMAND_LINE = Path.of("/proc/self/cmdline");
  private static volatile OrtEnvironment environment;

  private OrtRuntime() {}

  /**
   * The shared environment, created on the first call.
   *
   * @throws IllegalStateException when the JVM's command line is long enough to crash ONNX Runtime
   */
  public static OrtEnvironment environment() {
    OrtEnvironment env = environment;
    if (env == null) {
      synchronized (OrtRuntime.class) {
        env = environment;
        if (env == null) {
          checkCommandLine(COMMAND_LINE);
          // Errors only: graph optimisers warn per session about nodes they leave (a transformer's
          // Unsqueezes, dozens per variant), which says nothing to a user of the results.
          env = OrtEnvironment.getEnvironment(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
          environment = env;
        }
      }
    }
    return env;
  }

  /**
   * Refuses a command line longer than {@link #MAX_COMMAND_LINE_BYTES}; a missing file (not Linux)
   * passes.
   */
  static void checkCommandLine(Path cmdline) {
    if (!Files.isReadable(cmdline)) {
      return;
    }
    long length;
    try {
      length = Files.readAllBytes(cmdline).length;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + cmdline, e);
    }
    if (length > MAX_COMMAND_LINE_BYTES) {
      throw new IllegalStateException("this JVM's command line (" + cmdline + ") is " + length
          + " bytes long; ONNX Runtime 1.29 crashes the JVM while starting when it is longer than"
          + " about 3.9 KB (" + MAX_COMMAND_LINE_BYTES + " bytes allowed). A long -cp list or"
          + " many -D options cause it: pass the class path in the CLASSPATH environment"
          + " variable, as a wildcard (dir/*) or in an @argfile instead");
    }
  }

  /**
   * Closes {@code session}, then {@code options}, either of which may be null (not opened): the
   * options are closed even when closing the session fails.
   *
   * @throws IllegalStateException when ONNX Runtime fails to close the session
   */
  static void close(OrtSession session, OrtSession.SessionOptions options) {
    try {
      if (session != null) {
        session.close();
      }
    } catch (OrtException e) {
      throw new IllegalStateException("closing an ONNX Runtime session failed", e);
    } finally {
      if (options != null) {
        options.close();
      }
    }
  }
}
