package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrtRuntimeTest {
  @TempDir Path dir;

  @Test
  void refusesACommandLineLongEnoughToCrashOnnxRuntime() throws Exception {
    Path longLine = Files.write(dir.resolve("long"), new byte[3984]);
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> OrtRuntime.checkCommandLine(longLine));
    assertTrue(e.getMessage().contains("3984 bytes"), e.getMessage());
    assertTrue(e.getMessage().contains("CLASSPATH"), e.getMessage());
  }

  @Test
  void acceptsAShortOrMissingCommandLine() throws Exception {
    Path shortLine = Files.write(dir.resolve("short"), new byte[OrtRuntime.MAX_COMMAND_LINE_BYTES]);
    assertDoesNotThrow(() -> OrtRuntime.checkCommandLine(shortLine));
    assertDoesNotThrow(() -> OrtRuntime.checkCommandLine(dir.resolve("absent")));
  }
}
