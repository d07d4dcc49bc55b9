package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.pipeline.Pipeline;
import dev.lopper.jobs.spark.LocalSpark;
import dev.lopper.jobs.text.MiniLm;
import dev.lopper.jobs.text.WordPieceReference;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lopper tokenize} end to end on all-MiniLM-L6-v2's real tokenizer.json. */
class TokenizeCommandTest {

  private static final Configuration CONF = new Configuration();
  private static final Map<String, Long> VOCAB = MiniLm.vocabulary();
  private static final WordPieceReference REFERENCE = new WordPieceReference(VOCAB);

  /** What Spark writes for {@code id bigint, input_ids array<bigint>, ...}: the model's three inputs and the row. */
  private static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
      message table {
        optional int64 id;
        optional group input_ids (LIST) { repeated group list { optional int64 element; } }
        optional group attention_mask (LIST) { repeated group list { optional int64 element; } }
        optional group token_type_ids (LIST) { repeated group list { optional int64 element; } }
      }""");

  @TempDir
  Path tmp;

  private String tokenizer;
  private String tokens;
  private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

  @BeforeEach
  void tokenizer() {
    tokenizer = MiniLm.write(tmp).toString();
    tokens = tmp.resolve("tokens.parquet").toString();
  }

  private ExitCode lopper(String... args) {
    stdout.reset();
    stderr.reset();
    return Lopper.run(args, new Pipeline(), new PrintStream(stdout, true, StandardCharsets.UTF_8),
        new PrintStream(stderr, true, StandardCharsets.UTF_8));
  }

  private ExitCode tokenize(String text, String... more) {
    List<String> args = new ArrayList<>(List.of("tokenize", "--tokenizer", tokenizer, "--text", text,
        "--out", tokens));
    args.addAll(List.of(more));
    return lopper(args.toArray(String[]::new));
  }

  private String out() {
    return stdout.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return stderr.toString(StandardCharsets.UTF_8);
  }

  /** A text file as pandas or Spark would write it: an id-less string column among others. */
  private String textFile(String name, String... texts) {
    Table.Builder table = Table.builder().column("n", Table.Type.LONG).column("sentence", Table.Type.STRING);
    for (int i = 0; i < texts.length; i++) {
      table.row((long) (100 + i), texts[i]);
    }
    String path = tmp.resolve(name).toString();
    ParquetTables.write(table.build(), path, CONF);
    return path;
  }

  private static long[] ones(int n, long value) {
    long[] a = new long[n];
    Arrays.fill(a, value);
    return a;
  }

  @Test
  void writesTheModelsInputsForEveryRowInFileOrder() {
    String longText = String.join(" ", java.util.Collections.nCopies(100, "magnitude pruning"));
    String text = textFile("text.parquet", "hello world", "Hello, World! Pruned models run faster.", longText);

    assertEquals(ExitCode.SUCCESS, tokenize(text, "--column", "sentence"), err());
    assertEquals("", err());
    assertTrue(out().startsWith("lopper: tokenize finished in ") && out().contains(": " + tokens + ", 3 rows, ")
        && out().contains("(longest row 128; 1 row truncated to the tokenizer's maximum of 128)\n"), out());

    assertEquals(SCHEMA, ParquetTables.footer(tokens, CONF).schema());
    Table written = ParquetTables.read(tokens, CONF);
    assertEquals(3, written.rows().size());
    String[] texts = {"hello world", "Hello, World! Pruned models run faster.", longText};
    for (int r = 0; r < 3; r++) {
      List<Object> row = written.rows().get(r);
      long[] ids = (long[]) row.get(1);
      assertEquals((long) r, row.get(0), "id: the row's index in the text file");
      assertArrayEquals(REFERENCE.ids(texts[r], 128), ids, "row " + r);
      assertArrayEquals(ones(ids.length, 1), (long[]) row.get(2), "attention_mask, row " + r);
      assertArrayEquals(ones(ids.length, 0), (long[]) row.get(3), "token_type_ids, row " + r);
    }
    assertArrayEquals(new long[] {VOCAB.get("[CLS]"), VOCAB.get("hello"), VOCAB.get("world"), VOCAB.get("[SEP]")},
        (long[]) written.rows().get(0).get(1));
    assertEquals(128, ((long[]) written.rows().get(2).get(1)).length, "MiniLM's tokenizer.json truncates to 128");
  }

  @Test
  void truncatesToMaxLengthWithSepLast() {
    String text = textFile("text.parquet", "the quick brown fox jumps over the lazy dog", "short one");
    assertEquals(ExitCode.SUCCESS, tokenize(text, "--column", "sentence", "--max-length", "6"), err());
    Table written = ParquetTables.read(tokens, CONF);
    long[] first = (long[]) written.rows().get(0).get(1);
    assertArrayEquals(new long[] {VOCAB.get("[CLS]"), VOCAB.get("the"), VOCAB.get("quick"), VOCAB.get("brown"),
        VOCAB.get("fox"), VOCAB.get("[SEP]")}, first);
    assertEquals(4, ((long[]) written.rows().get(1).get(1)).length, "rows keep their own length, no padding");
    assertTrue(out().endsWith("(longest row 6; 1 row truncated to --max-length 6)\n"), out());
  }

  /**
   * A realistic run: the sentences of the GPL's text as Debian ships it, in a directory of two part
   * files as Spark writes them, against the WordPiece reference; Spark reads the output back.
   */
  @Test
  void tokenizesTheSentencesOfADebianTextAsTheReferenceDoes() throws IOException {
    Path gpl = Path.of("/usr/share/common-licenses/GPL-3");
    assumeTrue(Files.isReadable(gpl), "Debian's base-files provide " + gpl);
    String[] sentences = Files.readString(gpl).replaceAll("\\s+", " ").trim().split("(?<=[.;:?!]) (?=[A-Z0-9\"(])");
    assertTrue(sentences.length >= 150, "a few hundred sentences, found " + sentences.length);
    Path dir = Files.createDirectory(tmp.resolve("gpl.parquet"));
    int half = sentences.length / 2;
    ParquetTables.write(sentenceTable(sentences, 0, half), dir.resolve("part-00000.parquet").toString(), CONF);
    ParquetTables.write(sentenceTable(sentences, half, sentences.length), dir.resolve("part-00001.parquet").toString(),
        CONF);
    Files.writeString(dir.resolve("_SUCCESS"), "");

    long start = System.nanoTime();
    assertEquals(ExitCode.SUCCESS, tokenize(dir.toString()), err());
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("tokenize: %d sentences of the GPL in %.2f s: %s", sentences.length, seconds, out());

    Table written = ParquetTables.read(tokens, CONF);
    assertEquals(sentences.length, written.rows().size());
    int truncated = 0;
    long total = 0;
    for (int r = 0; r < sentences.length; r++) {
      List<Object> row = written.rows().get(r);
      long[] ids = (long[]) row.get(1);
      assertEquals((long) r, row.get(0));
      assertArrayEquals(REFERENCE.ids(sentences[r], 128), ids, "sentence " + r + ": " + sentences[r]);
      assertArrayEquals(ones(ids.length, 1), (long[]) row.get(2));
      assertArrayEquals(ones(ids.length, 0), (long[]) row.get(3));
      truncated += REFERENCE.truncated(sentences[r], 128) ? 1 : 0;
      total += ids.length;
    }
    assertTrue(out().contains(", " + sentences.length + " rows, " + total + " tokens (longest row ")
        && out().contains("; " + truncated + " rows truncated to the tokenizer's maximum of 128)"), out());
    assertTrue(truncated > 0 && truncated < 20, "a few long sentences: " + truncated);

    SparkSession spark = LocalSpark.start(1);
    try {
      Dataset<Row> read = spark.read().parquet(tokens);
      assertEquals("struct<id:bigint,input_ids:array<bigint>,attention_mask:array<bigint>,"
          + "token_type_ids:array<bigint>>", read.schema().simpleString());
      Row last = read.where("id = " + (sentences.length - 1)).first();
      assertEquals(Arrays.stream(REFERENCE.ids(sentences[sentences.length - 1], 128)).boxed().toList(),
          last.getList(1));
    } finally {
      spark.stop();
    }
  }

  /** The model's own input names and types are the truth for the output's columns; one row runs through it. */
  @Test
  void writesWhatAllMiniLmL6V2TakesInOnnxRuntime() throws Exception {
    String text = textFile("text.parquet", "Pruning removes weights.", "hello world");
    assertEquals(ExitCode.SUCCESS, tokenize(text, "--column", "sentence"), err());
    Table written = ParquetTables.read(tokens, CONF);

    byte[] model;
    try (InputStream in = getClass().getResourceAsStream("/all-minilm-l6-v2.onnx")) {
      model = in.readAllBytes();
    }
    OrtEnvironment env = OrtRuntime.environment();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        OrtSession session = env.createSession(model, options)) {
      List<String> columns = written.columns().stream().map(Table.Column::name).toList();
      assertEquals(columns.subList(1, 4), List.copyOf(session.getInputNames()), "the model's inputs, in order");
      for (NodeInfo input : session.getInputInfo().values()) {
        TensorInfo info = (TensorInfo) input.getInfo();
        assertEquals(OnnxJavaType.INT64, info.type, input.getName());
        assertEquals(2, info.getShape().length, input.getName() + ": [batch, sequence]");
      }
      List<Object> row = written.rows().get(0);
      Map<String, OnnxTensor> inputs = new java.util.LinkedHashMap<>();
      for (int c = 1; c < 4; c++) {
        inputs.put(columns.get(c), OnnxTensor.createTensor(env, new long[][] {(long[]) row.get(c)}));
      }
      try (OrtSession.Result result = session.run(inputs)) {
        float[][][] hidden = (float[][][]) result.get(0).getValue();
        assertEquals(((long[]) row.get(1)).length, hidden[0].length, "one vector per token");
        assertEquals(384, hidden[0][0].length);
      } finally {
        inputs.values().forEach(OnnxTensor::close);
      }
    }
  }

  private static Table sentenceTable(String[] sentences, int from, int to) {
    Table.Builder table = Table.builder().column("text", Table.Type.STRING);
    for (int i = from; i < to; i++) {
      table.row(sentences[i]);
    }
    return table.build();
  }

  @Test
  void printsAJsonSummaryForScripts() throws IOException {
    String text = textFile("text.parquet", "hello world", "sparse");
    assertEquals(ExitCode.SUCCESS, tokenize(text, "--column", "sentence", "--format", "json", "--quiet"), err());
    JsonNode summary = new ObjectMapper().readTree(out());
    assertEquals("tokenize", summary.get("command").asText());
    assertEquals("SUCCEEDED", summary.get("status").asText());
    assertEquals(tokens, summary.get("output").asText());
    assertEquals(2, summary.get("results").get("rows").asInt());
    assertEquals(7, summary.get("results").get("tokens").asInt());
    assertEquals(128, summary.get("results").get("max_length").asInt());
    assertTrue(err().startsWith("lopper: tokenize finished"), err());
  }

  @Test
  void refusesAnExistingOutputUnlessOverwriting() throws IOException {
    String text = textFile("text.parquet", "hello world");
    Files.writeString(Path.of(tokens), "old");
    assertBadInput(tokenize(text, "--column", "sentence"),
        "output file " + tokens + " exists; pass --overwrite or choose another");
    assertEquals("old", Files.readString(Path.of(tokens)));

    assertEquals(ExitCode.SUCCESS, tokenize(text, "--column", "sentence", "--overwrite"), err());
    assertEquals(1, ParquetTables.read(tokens, CONF).rows().size());

    Files.delete(Path.of(tokens));
    Files.createDirectory(Path.of(tokens));
    assertBadInput(tokenize(text, "--column", "sentence", "--overwrite"), "--out " + tokens + " is a directory");
  }

  @Test
  void refusesNullOrEmptyTextNamingTheRow() {
    String nulls = textFile("nulls.parquet", "hello", null, "world", null);
    assertBadInput(tokenize(nulls, "--column", "sentence"),
        "--text: " + nulls + ", column 'sentence', row 1: null text; every row needs some (2 of 4 rows are null, "
            + "empty or blank; rows 1, 3)");
    String empty = textFile("empty.parquet", "hello", "world", "");
    assertBadInput(tokenize(empty, "--column", "sentence"), "row 2: empty text");
    String blank = textFile("blank.parquet", " \t ");
    assertBadInput(tokenize(blank, "--column", "sentence"), "row 0: blank text");
    String none = textFile("none.parquet");
    assertBadInput(tokenize(none, "--column", "sentence"), none + " has no rows to tokenize");
  }

  @Test
  void refusesAMissingOrNonTextColumnNamingTheFileAndItsColumns() {
    String text = textFile("text.parquet", "hello world");
    assertBadInput(tokenize(text), "--text: " + text + " has no column 'text' (--column); its columns: n, sentence");
    assertBadInput(tokenize(text, "--column", "n"), "column 'n' of " + text + " holds LONG values");
    assertBadInput(tokenize(tmp.resolve("absent.parquet").toString()), "absent.parquet: no such file");
  }

  @Test
  void refusesAnUnreadableTokenizer() throws IOException {
    String text = textFile("text.parquet", "hello world");
    tokenizer = tmp.resolve("absent.json").toString();
    assertBadInput(tokenize(text, "--column", "sentence"), "--tokenizer: " + tokenizer + ": no such file");
    tokenizer = Files.writeString(tmp.resolve("tokenizer.model"), "vocab_size = 30522\n").toString();
    assertBadInput(tokenize(text, "--column", "sentence"), "--tokenizer: " + tokenizer + ": not a JSON file");
    tokenizer = Files.writeString(tmp.resolve("vocab.json"), "[\"[PAD]\", \"[UNK]\"]").toString();
    assertBadInput(tokenize(text, "--column", "sentence"), "not a Hugging Face tokenizer.json (not a JSON object)");
    tokenizer = Files.writeString(tmp.resolve("config.json"), "{\"hidden_size\": 384}").toString();
    assertBadInput(tokenize(text, "--column", "sentence"), "not a Hugging Face tokenizer.json");
  }

  @Test
  void refusesBadOptions() {
    String text = textFile("text.parquet", "hello world");
    assertBadInput(tokenize(text, "--column", "sentence", "--max-length", "0"),
        "--max-length: expected a positive number of tokens, found '0'");
    assertBadInput(tokenize(text, "--column", "sentence", "--max-length", "many"), "found 'many'");
    assertBadInput(tokenize(text, "--column", "sentence", "--max-length", "2"),
        "a maximum length of 2 leaves no room for text");
    assertBadInput(lopper("tokenize", "--text", text, "--out", tokens), "tokenize needs --tokenizer; usage: "
        + "lopper tokenize --tokenizer FILE --text FILE [--column NAME] --out FILE [--max-length N] [--overwrite]");
    assertBadInput(tokenize(text, "--set", "data.batch-size=8"), "--set does not apply to tokenize");
    assertBadInput(tokenize(text, "--model", "m.onnx"), "--model does not apply to tokenize");
    assertBadInput(lopper("prune", "--config", "c.yaml", "--tokenizer", tokenizer),
        "option --tokenizer belongs to 'lopper tokenize', not to prune");
    assertBadInput(tokenize(text, "--tokeniser", "x"), "unknown option --tokeniser (did you mean --tokenizer?)");
  }

  /** Exit 2, one line on stderr naming what is wrong, and no output written. */
  private void assertBadInput(ExitCode code, String message) {
    assertEquals(ExitCode.BAD_INPUT, code, err());
    String line = err();
    assertTrue(line.startsWith("lopper: error: ") && line.endsWith("\n") && line.indexOf('\n') == line.length() - 1,
        "one line: " + line);
    assertTrue(line.contains(message), "expected '" + message + "' in: " + line);
    assertFalse(Files.isRegularFile(Path.of(tokens)) && !line.contains("exists"), "nothing written");
    try (var files = Files.list(tmp)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporary file left");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
