package dev.lopper.jobs.text;

import ai.djl.engine.EngineException;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.util.Utils;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;

/**
 * A Hugging Face tokenizer, read from its {@code tokenizer.json}, that turns one text into a
 * transformer's inputs. It runs Hugging Face's tokenizers library (Rust) through DJL ({@code
 * ai.djl.huggingface:tokenizers}), whose jar carries the native library, and never uses the network.
 *
 * <pre>{@code
 * try (TextTokenizer tokenizer = TextTokenizer.load("hdfs:///models/tokenizer.json", OptionalInt.empty(), conf)) {
 *   TokenizedText t = tokenizer.encode("hello world"); // all-MiniLM-L6-v2: input_ids [101, 7592, 2088, 102]
 * }
 * }</pre>
 *
 * <p>Special tokens are added as the tokenizer's post-processor says (BERT: {@code [CLS]} first,
 * {@code [SEP]} last). Texts are never padded: each keeps its own length. A text with more tokens
 * than the maximum length is cut to it, special tokens included ({@code [SEP]} stays last); the
 * maximum is the one given, else the tokenizer.json's own {@code truncation.max_length}, else there
 * is none. DJL's own defaults are not used: it would pad to the longest text of a batch, and
 * truncate to 512 tokens when the file sets no limit.
 *
 * <p>DJL is set up once per JVM, before its first use: offline ({@code ai.djl.offline=true}: it
 * neither downloads a native library nor reports usage; an environment variable {@code DJL_OFFLINE}
 * would take precedence, as DJL reads it first), and, unless {@code DJL_CACHE_DIR} or {@code
 * ENGINE_CACHE_DIR} is set in the environment or as a system property, with its cache in {@code
 * <java.io.tmpdir>/lopper-djl-<user>}. DJL copies the native library from the jar there on first
 * use; a temporary directory is writable on drivers and executors alike (YARN gives each container
 * one of its own) and this one is private to the user, where DJL's default ({@code ~/.djl.ai}, or
 * {@code <tmpdir>/.djl.ai} for an unwritable home) may be read-only or shared by all users.
 */
public final class TextTokenizer implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static boolean djlSetUp;

  private final HuggingFaceTokenizer tokenizer;
  private final String path;
  private final OptionalInt maxLength;
  private final OptionalInt ownMaxLength;
  private final int specialTokens;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, String path, OptionalInt maxLength,
      OptionalInt ownMaxLength) {
    this.tokenizer = tokenizer;
    this.path = path;
    this.maxLength = maxLength;
    this.ownMaxLength = ownMaxLength;
    this.specialTokens = tokenizer.encode("").getIds().length;
  }

  /**
   * Loads the {@code tokenizer.json} at {@code path} (any Hadoop path), truncating to {@code
   * maxLength} when given, else to the file's own maximum length, if any.
   *
   * @throws InvalidInputException when the file is missing, is not a tokenizer Hugging Face's
   *     library can load, or {@code maxLength} leaves no room for text after the special tokens
   */
  public static TextTokenizer load(String path, OptionalInt maxLength, Configuration conf) {
    byte[] json = HadoopFiles.readAll(path, conf);
    OptionalInt own = declaredMaxLength(path, json);
    OptionalInt effective = maxLength.isPresent() ? maxLength : own;
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "true");
    options.put("padding", "false");
    options.put("truncation", String.valueOf(effective.isPresent()));
    if (effective.isPresent()) {
      options.put("maxLength", String.valueOf(effective.getAsInt()));
      // DJL lowers maxLength to modelMaxLength (512 unless given) with a warning: the limit is ours.
      options.put("modelMaxLength", String.valueOf(effective.getAsInt()));
    }
    setUpDjl();
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options);
    } catch (EngineException e) {
      throw new IllegalStateException("Hugging Face's tokenizers library (DJL) did not load: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (RuntimeException e) { // the library's own parse error, e.g. "unknown variant `Foo`"
      throw new InvalidInputException(path + ": not a tokenizer Hugging Face's tokenizers library can load: "
          + e.getMessage(), e);
    }
    TextTokenizer loaded = new TextTokenizer(tokenizer, path, effective, own);
    if (effective.isPresent() && effective.getAsInt() <= loaded.specialTokens) {
      loaded.close();
      // The library would not truncate at all below the special tokens' count, and keep only them at it.
      throw new InvalidInputException("a maximum length of " + effective.getAsInt()
          + (maxLength.isPresent() ? "" : " (the tokenizer's own)") + " leaves no room for text: " + path
          + " adds " + loaded.specialTokens + " special tokens to every text");
    }
    return loaded;
  }

  /**
   * The {@code truncation.max_length} of a tokenizer.json, checking that it looks like one. The file
   * is streamed, its vocabulary skipped: a tree of it would cost more than the library's own parse.
   */
  private static OptionalInt declaredMaxLength(String path, byte[] json) {
    boolean model = false;
    OptionalInt maxLength = OptionalInt.empty();
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new InvalidInputException(path + ": not a Hugging Face tokenizer.json (not a JSON object)");
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if (field.equals("model")) {
          model = value == JsonToken.START_OBJECT;
          parser.skipChildren();
        } else if (field.equals("truncation") && value == JsonToken.START_OBJECT) {
          JsonNode truncation = parser.readValueAsTree();
          JsonNode max = truncation.path("max_length");
          if (max.isIntegralNumber() && max.canConvertToInt()) {
            maxLength = OptionalInt.of(max.asInt());
          }
        } else {
          parser.skipChildren();
        }
      }
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(path + ": not a JSON file: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": " + e.getMessage(), e);
    }
    if (!model) {
      throw new InvalidInputException(path + ": not a Hugging Face tokenizer.json (no \"model\" object)");
    }
    return maxLength;
  }

  /** Sets DJL up before its first use: offline, and a cache directory that works everywhere. */
  private static synchronized void setUpDjl() {
    if (djlSetUp) {
      return;
    }
    System.setProperty("ai.djl.offline", "true");
    if (Utils.getEnvOrSystemProperty("DJL_CACHE_DIR") == null
        && Utils.getEnvOrSystemProperty("ENGINE_CACHE_DIR") == null) {
      String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
      System.setProperty("DJL_CACHE_DIR",
          Path.of(System.getProperty("java.io.tmpdir"), "lopper-djl-" + user).toString());
    }
    djlSetUp = true;
  }

  /** The tokens of {@code text}, special tokens included, truncated to {@link #maxLength()} if any. */
  public TokenizedText encode(String text) {
    Encoding encoding = tokenizer.encode(text);
    return new TokenizedText(encoding.getIds(), encoding.getAttentionMask(), encoding.getTypeIds(),
        encoding.exceedMaxLength());
  }

  /** The maximum number of tokens of a text, special tokens included; empty when texts are not truncated. */
  public OptionalInt maxLength() {
    return maxLength;
  }

  /** The maximum length the tokenizer.json itself sets ({@code truncation.max_length}), if any. */
  public OptionalInt ownMaxLength() {
    return ownMaxLength;
  }

  /** The number of special tokens added to every text (BERT: 2, {@code [CLS]} and {@code [SEP]}). */
  public int specialTokens() {
    return specialTokens;
  }

  /** Where the tokenizer was read from. */
  public String path() {
    return path;
  }

  /** Frees the native tokenizer. */
  @Override
  public void close() {
    tokenizer.close();
  }
}
