package dev.lopper.jobs.text;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * {@code lopper tokenize}: a Parquet column of text into a transformer's inputs, written as one
 * Parquet file with one row per text, in the text file's order:
 *
 * <pre>
 *   id              int64          the text's row index in the text file (0, 1, ...)
 *   input_ids       list of int64  token ids, special tokens included
 *   attention_mask  list of int64  1 per token
 *   token_type_ids  list of int64  0 per token (one segment)
 * </pre>
 *
 * The three lists of a row have that row's length: rows are not padded to a common length. The
 * list columns are named as the inputs of BERT-like ONNX models (all-MiniLM-L6-v2's are exactly
 * these, int64 {@code [batch, sequence]}).
 *
 * <pre>{@code
 * Summary s = TextTokenization.run(new Request("tokenizer.json", "text.parquet", "text", "tokens.parquet",
 *     OptionalInt.empty(), false), conf);
 * }</pre>
 *
 * <p>Everything is checked before anything is written: the output (an existing file is refused
 * unless overwriting; a directory always), the text column (present, of strings, no null or blank
 * text) and the tokenizer. The file is read into memory whole and tokenized on this thread, which
 * suits text files of up to some hundred thousand rows; the output appears complete or not at all
 * ({@link ParquetTables#write}). Every path goes through the Hadoop FileSystem API.
 */
public final class TextTokenization {

  /** The output's column of row indices. */
  public static final String ID = "id";
  /** The output's column of token ids. */
  public static final String INPUT_IDS = "input_ids";
  /** The output's column of attention masks. */
  public static final String ATTENTION_MASK = "attention_mask";
  /** The output's column of token types (segments). */
  public static final String TOKEN_TYPE_IDS = "token_type_ids";

  private TextTokenization() {}

  /**
   * What to tokenize.
   *
   * @param tokenizer the tokenizer.json (any Hadoop path)
   * @param text the Parquet file, or directory of part files, holding the text
   * @param column the column of text in it
   * @param out the Parquet file to write
   * @param maxLength the maximum number of tokens per text, special tokens included; empty: the
   *     tokenizer's own, if any
   * @param overwrite replace an existing {@code out} file
   */
  public record Request(String tokenizer, String text, String column, String out, OptionalInt maxLength,
      boolean overwrite) {
    public Request {
      Objects.requireNonNull(tokenizer, "tokenizer");
      Objects.requireNonNull(text, "text");
      Objects.requireNonNull(column, "column");
      Objects.requireNonNull(out, "out");
      Objects.requireNonNull(maxLength, "maxLength");
    }
  }

  /**
   * What was written.
   *
   * @param out the Parquet file written
   * @param rows its rows (the text file's)
   * @param tokens the tokens of all rows together
   * @param longest the tokens of the longest row
   * @param truncated the rows cut to {@code maxLength}
   * @param maxLength the maximum length applied; empty: none
   * @param ownMaxLength true when {@code maxLength} is the tokenizer's own (none was given)
   */
  public record Summary(String out, int rows, long tokens, int longest, int truncated, OptionalInt maxLength,
      boolean ownMaxLength) {}

  /**
   * Tokenizes the request's text column and writes the output file.
   *
   * @throws InvalidInputException naming the option, file, column or row that is wrong
   */
  public static Summary run(Request request, Configuration conf) {
    checkOutput(request, conf);
    List<String> texts = readTexts(request, conf);
    TextTokenizer tokenizer;
    try {
      tokenizer = TextTokenizer.load(request.tokenizer(), request.maxLength(), conf);
    } catch (InvalidInputException e) {
      throw new InvalidInputException("--tokenizer: " + e.getMessage(), e);
    }
    Table.Builder table = Table.builder()
        .column(ID, Table.Type.LONG)
        .column(INPUT_IDS, Table.Type.LONG_LIST)
        .column(ATTENTION_MASK, Table.Type.LONG_LIST)
        .column(TOKEN_TYPE_IDS, Table.Type.LONG_LIST);
    long tokens = 0;
    int longest = 0;
    int truncated = 0;
    try (tokenizer) {
      for (int row = 0; row < texts.size(); row++) {
        TokenizedText t = tokenizer.encode(texts.get(row));
        table.row((long) row, t.inputIds(), t.attentionMask(), t.tokenTypeIds());
        tokens += t.length();
        longest = Math.max(longest, t.length());
        truncated += t.truncated() ? 1 : 0;
      }
    }
    ParquetTables.write(table.build(), request.out(), conf);
    return new Summary(request.out(), texts.size(), tokens, longest, truncated, tokenizer.maxLength(),
        request.maxLength().isEmpty() && tokenizer.maxLength().isPresent());
  }

  /**
   * Refuses an existing output unless overwriting, an output that is a directory (a file is
   * written, and a directory is not deleted for it), and an output that is the text file.
   */
  private static void checkOutput(Request request, Configuration conf) {
    String out = request.out();
    Path path = new Path(out);
    if (path.getParent() == null) {
      throw new InvalidInputException("--out " + out + " is a root directory; name a file");
    }
    FileStatus existing;
    try {
      existing = HadoopFiles.fileSystem(out, conf).getFileStatus(path);
    } catch (java.io.FileNotFoundException e) {
      existing = null;
    } catch (IOException e) {
      throw new UncheckedIOException(out + ": " + e.getMessage(), e);
    }
    if (existing != null && existing.isDirectory()) {
      throw new InvalidInputException("--out " + out + " is a directory; tokenize writes one Parquet file: "
          + "name a file");
    }
    if (existing != null && !request.overwrite()) {
      throw new InvalidInputException("output file " + out + " exists; pass --overwrite or choose another");
    }
    if (HadoopFiles.qualified(out, conf).equals(HadoopFiles.qualified(request.text(), conf))) {
      throw new InvalidInputException("--out " + out + " is the --text file; choose another output");
    }
  }

  /** The text column's values, checked: present, strings, none null or blank, at least one row. */
  private static List<String> readTexts(Request request, Configuration conf) {
    String file = request.text();
    String column = request.column();
    Table table;
    try {
      List<String> columns = ParquetTables.footer(file, conf).schema().getFields().stream()
          .map(org.apache.parquet.schema.Type::getName).toList();
      if (!columns.contains(column)) {
        throw new InvalidInputException(file + " has no column '" + column + "' (--column); its columns: "
            + String.join(", ", columns));
      }
      table = ParquetTables.read(file, List.of(column), conf);
    } catch (InvalidInputException e) {
      throw new InvalidInputException("--text: " + e.getMessage(), e);
    }
    Table.Type type = table.columns().get(0).type();
    if (type != Table.Type.STRING) {
      throw new InvalidInputException("--text: column '" + column + "' of " + file + " holds " + type
          + " values; tokenize needs text (a string column)");
    }
    if (table.rows().isEmpty()) {
      throw new InvalidInputException("--text: " + file + " has no rows to tokenize");
    }
    List<String> texts = new ArrayList<>(table.rows().size());
    List<Integer> bad = new ArrayList<>();
    for (List<Object> row : table.rows()) {
      String text = (String) row.get(0);
      if (text == null || text.isBlank()) {
        bad.add(texts.size());
      }
      texts.add(text);
    }
    if (!bad.isEmpty()) {
      String first = texts.get(bad.get(0));
      throw new InvalidInputException("--text: " + file + ", column '" + column + "', row " + bad.get(0) + ": "
          + (first == null ? "null" : first.isEmpty() ? "empty" : "blank") + " text; every row needs some ("
          + bad.size() + " of " + texts.size() + " rows are null, empty or blank; rows "
          + String.join(", ", bad.stream().limit(5).map(String::valueOf).toList()) + (bad.size() > 5 ? ", ..." : "")
          + ")");
    }
    return texts;
  }
}
