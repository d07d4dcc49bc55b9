package dev.lopper.jobs.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** docs/configuration.md and conf/ stay true to the schema. */
class ConfigurationDocsTest {

  private static final Path ROOT = Path.of("..");

  @Test
  void referenceNamesEveryKeyWithItsDefaultAndFlag() throws IOException {
    List<String> lines = Files.readAllLines(ROOT.resolve("docs/configuration.md"));
    for (Key<?> key : ConfigKeys.ALL) {
      String row = lines.stream().filter(l -> l.startsWith("| `" + key.name() + "` |")).findFirst()
          .orElseThrow(() -> new AssertionError("docs/configuration.md has no row for " + key.name()));
      String[] cells = row.split(" \\| ");
      String expectedDefault = key.required() ? "required" : "`" + ConfigKeys.render(key.defaultValue()) + "`";
      assertEquals(expectedDefault, cells[2].trim(), key.name());
      assertEquals(key.expected(), cells[1].trim(), key.name());
      assertEquals(key.flag() == null ? "" : "`" + key.flag() + "`", cells[3].trim(), key.name());
    }
  }

  @Test
  void exampleWithEveryKeyShowsTheDefaults() throws IOException {
    String doc = Files.readString(ROOT.resolve("docs/configuration.md"));
    int start = doc.indexOf("```yaml\n", doc.indexOf("## Example: every key with its default")) + 8;
    String example = doc.substring(start, doc.indexOf("```", start));
    LopperConfig fromExample = LopperConfig.parse(example, "docs example", List.of());
    LopperConfig defaults = LopperConfig.parse(null, null, List.of(
        ConfigOverride.ofFlag("--model", "data/digits-cnn.onnx"),
        ConfigOverride.ofFlag("--data", "data/digits-val.parquet"),
        ConfigOverride.ofFlag("--out", "runs/out")));
    assertEquals(defaults, fromExample);
    for (String key : ConfigKeys.names()) {
      String leaf = key.substring(key.lastIndexOf('.') + 1);
      assertTrue(example.contains(leaf + ":"), "example lacks " + key);
    }
  }

  @Test
  void sampleConfigurationsParse() throws IOException {
    List<Path> files;
    try (Stream<Path> list = Files.list(ROOT.resolve("conf"))) {
      files = list.filter(p -> p.toString().endsWith(".yaml")).toList();
    }
    assertFalse(files.isEmpty());
    for (Path file : files) {
      LopperConfig.parse(Files.readString(file), file.toString(), List.of());
    }
  }
}
