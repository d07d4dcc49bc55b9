package dev.lopper.jobs.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.util.Utils;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TextTokenizer} on all-MiniLM-L6-v2's real tokenizer.json, against its vocabulary. */
class TextTokenizerTest {

  private static final Configuration CONF = new Configuration();
  private static final Map<String, Long> VOCAB = MiniLm.vocabulary();

  @TempDir
  Path dir;

  private TextTokenizer load(OptionalInt maxLength) {
    return TextTokenizer.load(MiniLm.write(dir).toString(), maxLength, CONF);
  }

  @Test
  void encodesWordsAsTheirVocabularyIdsBetweenClsAndSep() {
    try (TextTokenizer tokenizer = load(OptionalInt.empty())) {
      TokenizedText t = tokenizer.encode("hello world");
      long[] expected = {VOCAB.get("[CLS]"), VOCAB.get("hello"), VOCAB.get("world"), VOCAB.get("[SEP]")};
      assertArrayEquals(expected, t.inputIds());
      assertArrayEquals(new long[] {101, 7592, 2088, 102}, t.inputIds(), "BERT uncased's ids");
      assertArrayEquals(new long[] {1, 1, 1, 1}, t.attentionMask());
      assertArrayEquals(new long[] {0, 0, 0, 0}, t.tokenTypeIds());
      assertFalse(t.truncated());
      assertEquals(2, tokenizer.specialTokens());

      // Uncased, punctuation split off, a word outside the vocabulary in pieces.
      WordPieceReference reference = new WordPieceReference(VOCAB);
      String text = "Hello, World! Tokenizers split unaffable words.";
      assertArrayEquals(reference.ids(text, 0), tokenizer.encode(text).inputIds());
      long[] pieces = tokenizer.encode("unaffable").inputIds();
      assertArrayEquals(reference.ids("unaffable", 0), pieces);
      assertTrue(pieces.length > 3 && !VOCAB.containsKey("unaffable"), "a word outside the vocabulary, in pieces");
    }
  }

  @Test
  void truncatesToTheMaximumLengthWithSepLast() {
    String text = String.join(" ", Collections.nCopies(40, "pruning keeps the weights that matter"));
    try (TextTokenizer full = load(OptionalInt.of(1000)); TextTokenizer cut = load(OptionalInt.of(16))) {
      long[] all = full.encode(text).inputIds();
      TokenizedText t = cut.encode(text);
      assertEquals(16, t.length());
      assertTrue(t.truncated());
      assertEquals(VOCAB.get("[CLS]"), t.inputIds()[0]);
      assertEquals(VOCAB.get("[SEP]"), t.inputIds()[15]);
      assertArrayEquals(Arrays.copyOfRange(all, 0, 15), Arrays.copyOfRange(t.inputIds(), 0, 15), "the first tokens");
      assertArrayEquals(new WordPieceReference(VOCAB).ids(text, 16), t.inputIds());
      assertFalse(cut.encode("hello world").truncated());
      assertEquals(4, cut.encode("hello world").length(), "shorter texts are not padded");
    }
  }

  @Test
  void truncatesToTheTokenizersOwnMaximumUnlessTold() {
    String text = String.join(" ", Collections.nCopies(150, "sparse model"));  // 302 tokens with [CLS], [SEP]
    try (TextTokenizer own = load(OptionalInt.empty()); TextTokenizer longer = load(OptionalInt.of(600))) {
      assertEquals(OptionalInt.of(128), own.ownMaxLength(), "the file's truncation.max_length");
      assertEquals(OptionalInt.of(128), own.maxLength());
      assertEquals(128, own.encode(text).length());
      assertEquals(302, longer.encode(text).length(), "a larger --max-length wins over the file's");
    }

    ObjectNode json = MiniLm.json();
    json.putNull("truncation");
    json.putNull("padding");
    String untruncated = MiniLm.write(dir, "no-limit.json", json).toString();
    String longText = String.join(" ", Collections.nCopies(350, "sparse model")); // 702 tokens
    try (TextTokenizer none = TextTokenizer.load(untruncated, OptionalInt.empty(), CONF)) {
      assertEquals(OptionalInt.empty(), none.maxLength());
      assertEquals(702, none.encode(longText).length(), "no limit: not DJL's default of 512");
      assertFalse(none.encode(longText).truncated());
    }
  }

  @Test
  void runsOfflineWithTheNativeLibraryCopiedFromTheJarToItsCache() throws IOException {
    try (TextTokenizer tokenizer = load(OptionalInt.empty())) {
      assertEquals(4, tokenizer.encode("hello world").length());
    }
    assertTrue(Utils.isOfflineMode(), "ai.djl.offline");
    Path cache = Utils.getEngineCacheDir("tokenizers");
    if (System.getenv("DJL_CACHE_DIR") == null && System.getenv("ENGINE_CACHE_DIR") == null) {
      Path lopperCache = cache.getParent(); // <DJL_CACHE_DIR>/tokenizers
      assertEquals(Path.of(System.getProperty("java.io.tmpdir")), lopperCache.getParent(), cache.toString());
      assertTrue(lopperCache.getFileName().toString().startsWith("lopper-djl-"), cache.toString());
    }
    try (Stream<Path> files = Files.walk(cache)) {
      assertTrue(files.anyMatch(p -> p.getFileName().toString().equals("libtokenizers.so")
          && p.getParent().getFileName().toString().endsWith("-cpu-linux-x86_64")), "in " + cache);
    }
  }

  @Test
  void refusesAMaximumLengthWithoutRoomForText() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> load(OptionalInt.of(2)));
    assertTrue(e.getMessage().contains("a maximum length of 2 leaves no room for text")
        && e.getMessage().contains("adds 2 special tokens"), e.getMessage());
    try (TextTokenizer three = load(OptionalInt.of(3))) {
      assertArrayEquals(new long[] {101, 7592, 102}, three.encode("hello world").inputIds());
    }
  }

  @Test
  void refusesFilesThatAreNotTokenizers() throws IOException {
    Path notJson = Files.writeString(dir.resolve("notes.json"), "vocab: hello");
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> TextTokenizer.load(notJson.toString(), OptionalInt.empty(), CONF));
    assertTrue(e.getMessage().startsWith(notJson + ": not a JSON file"), e.getMessage());

    Path noModel = Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 384}");
    e = assertThrows(InvalidInputException.class, () -> TextTokenizer.load(noModel.toString(), OptionalInt.empty(), CONF));
    assertTrue(e.getMessage().contains("not a Hugging Face tokenizer.json"), e.getMessage());

    ObjectNode json = MiniLm.json();
    ((ObjectNode) json.get("model")).put("type", "NoSuchModel");
    String unknown = MiniLm.write(dir, "unknown.json", json).toString();
    e = assertThrows(InvalidInputException.class, () -> TextTokenizer.load(unknown, OptionalInt.empty(), CONF));
    assertTrue(e.getMessage().startsWith(unknown + ": not a tokenizer Hugging Face's tokenizers library can load: "),
        e.getMessage());

    e = assertThrows(InvalidInputException.class,
        () -> TextTokenizer.load(dir.resolve("absent.json").toString(), OptionalInt.empty(), CONF));
    assertTrue(e.getMessage().contains("absent.json: no such file"), e.getMessage());
  }
}
