package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.jobs.config.ConfigKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/cli.md stays true to the commands, flags and exit codes. */
class CliDocsTest {

  @Test
  void documentsEveryCommandFlagAndExitCode() throws IOException {
    String doc = Files.readString(Path.of("..", "docs", "cli.md"));
    for (Command command : Command.values()) {
      assertTrue(doc.contains("| `" + command.word() + "` |"), command.word());
    }
    for (String flag : ConfigKeys.flags()) {
      assertTrue(doc.contains("| `" + flag), flag);
    }
    for (String option : CommandLine.OWN_OPTIONS) {
      assertTrue(doc.contains("| `" + option), option);
    }
    for (String option : TokenizeCommand.OPTIONS) {
      assertTrue(doc.contains("| `" + option), option);
    }
    for (ExitCode code : ExitCode.values()) {
      assertTrue(doc.contains("| " + code.code() + " |"), code.name());
    }
  }
}
