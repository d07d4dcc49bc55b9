package dev.lopper.jobs.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.lopper.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which problem the reader reports when a configuration has several. */
class ConfigReaderTest {

  /** A value no kind of key takes: a list holding a list. */
  private static final List<List<Integer>> BAD = List.of(List.of(1));

  private static String error(Map<String, Object> flat) throws JsonProcessingException {
    Map<String, Object> nested = new LinkedHashMap<>();
    Map<String, Map<String, Object>> sections = new LinkedHashMap<>();
    flat.forEach((name, value) -> {
      int dot = name.lastIndexOf('.');
      if (dot < 0) {
        nested.put(name, value);
        return;
      }
      String section = name.substring(0, dot);
      if (!sections.containsKey(section)) {
        sections.put(section, new LinkedHashMap<>());
        nested.put(section, sections.get(section));
      }
      sections.get(section).put(name.substring(dot + 1), value);
    });
    String yaml = new YAMLMapper().writeValueAsString(nested);
    return assertThrows(InvalidInputException.class, () -> LopperConfig.parse(yaml, "c.yaml", List.of()))
        .getMessage();
  }

  @Test
  void reportsTheBadValueFirstInTheReference() throws JsonProcessingException {
    // spark.conf is left out: its entries are checked as they are collected, before any other key.
    List<Key<?>> keys = ConfigKeys.ALL.stream().filter(k -> k != ConfigKeys.SPARK_CONF).toList();
    for (int first = 0; first < keys.size(); first++) {
      Map<String, Object> flat = new LinkedHashMap<>(Map.of("model.onnx", "m", "data.path", "d", "output.dir", "o"));
      // The later keys come first in the document, so that only the table's order can explain the answer.
      for (int i = keys.size() - 1; i >= first; i--) {
        flat.put(keys.get(i).name(), BAD);
      }
      String message = error(flat);
      assertTrue(message.startsWith("c.yaml: " + keys.get(first).name() + ": expected "), message);
    }
  }

  @Test
  void reportsABadValueBeforeAMissingRequiredKey() throws JsonProcessingException {
    assertEquals("c.yaml: data.batch-size: expected a positive integer, found '0'",
        error(Map.of("data.batch-size", 0)));
    assertEquals("c.yaml: missing required key model.onnx (set it in the configuration file or pass --model)",
        error(Map.of("data.batch-size", 1)));
  }
}
