package dev.lopper.jobs.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.lopper.InvalidInputException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A {@link Key} reads given values as its type, refuses others with a message, and is listed once. */
class KeyTest {

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private static String refusal(Key<?> key, JsonNode node) {
    return assertThrows(InvalidInputException.class, () -> key.read(node, "--set " + key.name())).getMessage();
  }

  @Test
  void readsAGivenValueAsItsType() {
    int rows = ConfigKeys.DATA_BATCH_SIZE.read(NODES.numberNode(128), "--set data.batch-size");
    assertEquals(128, rows);
    assertEquals(64, ConfigKeys.DATA_BATCH_SIZE.read(NODES.textNode("64"), "--set data.batch-size"));
    List<Double> grid = ConfigKeys.SWEEP_SPARSITIES.read(NODES.arrayNode().add(0.9).add(0.5).add(0.5), "grid");
    assertEquals(List.of(0.5, 0.9), grid);
    assertEquals(true, ConfigKeys.OUTPUT_OVERWRITE.read(NODES.textNode("TRUE"), "--overwrite"));
  }

  @Test
  void refusalNamesWhereTheValueAndWhatWasExpected() {
    assertEquals("--set data.batch-size: expected a positive integer, found '0'",
        refusal(ConfigKeys.DATA_BATCH_SIZE, NODES.numberNode(0)));
    assertEquals("--set data.batch-size: expected a positive integer, found '4294967296'",
        refusal(ConfigKeys.DATA_BATCH_SIZE, NODES.numberNode(4294967296L)), "no int overflow into range");
    assertEquals("--set allocation.max-sparsity: expected a number in (0, 1] or null, found '1.5'",
        refusal(ConfigKeys.ALLOCATION_MAX_SPARSITY, NODES.numberNode(1.5)));
    assertEquals("--set metric: unknown name ''; expected one of accuracy, top5, loss, f1, kl, perplexity, cosine",
        refusal(ConfigKeys.METRIC, NODES.textNode("")));
    assertEquals("--set model.exclude: expected a list of strings, found '' in [\"a\",\"\"]",
        refusal(ConfigKeys.MODEL_EXCLUDE, NODES.arrayNode().add("a").add("")));
    assertEquals("--set data.features: expected a string, found null",
        refusal(ConfigKeys.DATA_FEATURES, NullNode.getInstance()));
  }

  @Test
  void onlyNullableKeysTakeNullOrAnEmptyString() {
    assertNull(ConfigKeys.DATA_LABEL.read(NODES.textNode(""), "--set data.label"));
    assertNull(ConfigKeys.DATA_LABEL.read(NullNode.getInstance(), "--set data.label"));
    assertNull(ConfigKeys.GATE_MAX_DROP.read(NullNode.getInstance(), "--set gate.max-drop"));
    assertEquals("--set data.features: must not be empty; expected a string",
        refusal(ConfigKeys.DATA_FEATURES, NODES.textNode("")));
  }

  @Test
  void everyKeyIsInTheTableOnce() throws IllegalAccessException {
    List<Key<?>> declared = new ArrayList<>();
    for (Field field : ConfigKeys.class.getDeclaredFields()) {
      if (Modifier.isStatic(field.getModifiers()) && field.get(null) instanceof Key<?> key) {
        declared.add(key);
      }
    }
    assertEquals(declared, ConfigKeys.ALL, "ALL lists every key, in the order they are declared");
    assertEquals(ConfigKeys.ALL.size(), new HashSet<>(ConfigKeys.names()).size(), "names are unique");
  }

  @Test
  void eachKeyFindsItsOwnValueInAConfiguration() {
    LopperConfig config = LopperConfig.parse("model: {onnx: m}\ndata: {path: d}\noutput: {dir: o}\n", null,
        List.of());
    Map<Key<?>, Object> given = Map.of(ConfigKeys.MODEL_ONNX, "m", ConfigKeys.DATA_PATH, "d",
        ConfigKeys.OUTPUT_DIR, "o");
    for (Key<?> key : ConfigKeys.ALL) {
      if (key.required()) {
        assertEquals(given.get(key), key.valueIn(config), key.name());
      } else if (key == ConfigKeys.ALLOCATION_MAX_SPARSITY) {
        assertEquals(0.9, key.valueIn(config), "resolved to the largest swept sparsity");
      } else {
        assertEquals(key.defaultValue(), key.valueIn(config), key.name());
      }
    }
  }
}
