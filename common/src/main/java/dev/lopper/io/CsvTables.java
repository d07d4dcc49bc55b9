package dev.lopper.io;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table.Column;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * {@link Table}s as CSV files for people and spreadsheets, through the Hadoop FileSystem API.
 *
 * <p>The format is RFC 4180 with LF line ends (as Spark and pandas write them; the reader takes
 * CRLF too), UTF-8 without a byte-order mark, and a header row of the column names. A field is
 * quoted when it contains a comma, a double quote, CR or LF, with quotes doubled inside. Values:
 *
 * <ul>
 *   <li>null: an empty, unquoted field; an empty string or empty list: {@code ""} (quoted), so the
 *       two stay apart
 *   <li>INT, LONG: decimal; BOOLEAN: {@code true} or {@code false}
 *   <li>DOUBLE: {@link Double#toString(double)}, which reads back to the same double ({@code 0.1},
 *       {@code 1.0E-5}, {@code NaN}, {@code Infinity}, {@code -Infinity}); Python's {@code float()}
 *       reads all of them
 *   <li>FLOAT_LIST, LONG_LIST: the values separated by single spaces in one field, floats by
 *       {@link Float#toString(float)}
 * </ul>
 *
 * <pre>{@code
 * CsvTables.write(sensitivity, "hdfs:///runs/r1/sensitivity.csv", conf);
 * Table back = CsvTables.read("hdfs:///runs/r1/sensitivity.csv", conf, sensitivity.columns());
 * }</pre>
 */
public final class CsvTables {

  private CsvTables() {}

  /**
   * Writes {@code table} as CSV to {@code path}, replacing any file there; the file appears complete
   * or not at all. A value whose Java type does not match its column's type is an {@link
   * IllegalArgumentException} naming the column and row.
   */
  public static void write(Table table, String path, Configuration conf) {
    HadoopFiles.writeAtomically(path, conf, out -> {
      Writer writer = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8));
      List<Column> columns = table.columns();
      for (int c = 0; c < columns.size(); c++) {
        if (c > 0) {
          writer.write(',');
        }
        writer.write(quote(columns.get(c).name()));
      }
      writer.write('\n');
      int r = 0;
      for (List<Object> row : table.rows()) {
        for (int c = 0; c < columns.size(); c++) {
          if (c > 0) {
            writer.write(',');
          }
          writer.write(format(columns.get(c), row.get(c), r));
        }
        writer.write('\n');
        r++;
      }
      writer.flush();
    });
  }

  /**
   * Reads the CSV file at {@code path} into a table of the given columns, found in the header by
   * name (the file may hold more columns, which are left out, and in any order). A missing column,
   * a row with the wrong number of fields, or a value that does not parse as its column's type is
   * bad input naming the file, line and column.
   */
  public static Table read(String path, Configuration conf, List<Column> schema) {
    String text = new String(HadoopFiles.readAll(path, conf), StandardCharsets.UTF_8);
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1);
    }
    List<Record> records = parse(path, text);
    if (records.isEmpty()) {
      throw new InvalidInputException(path + ": empty, expected a header row with columns "
          + names(schema));
    }
    Record header = records.get(0);
    Map<String, Integer> position = new HashMap<>();
    for (int i = 0; i < header.fields().size(); i++) {
      String name = header.fields().get(i).text();
      if (position.put(name, i) != null) {
        throw new InvalidInputException(path + ": header names column " + name + " twice");
      }
    }
    int[] indices = new int[schema.size()];
    for (int c = 0; c < schema.size(); c++) {
      Integer i = position.get(schema.get(c).name());
      if (i == null) {
        throw new InvalidInputException(path + ": no column " + schema.get(c).name()
            + "; expected columns " + names(schema) + ", header has " + header.texts());
      }
      indices[c] = i;
    }
    List<List<Object>> rows = new ArrayList<>(records.size() - 1);
    for (Record record : records.subList(1, records.size())) {
      if (record.fields().size() != header.fields().size()) {
        throw new InvalidInputException(path + ": line " + record.line() + " has "
            + record.fields().size() + " fields, the header has " + header.fields().size());
      }
      List<Object> row = new ArrayList<>(schema.size());
      for (int c = 0; c < schema.size(); c++) {
        row.add(parseValue(path, record.line(), schema.get(c), record.fields().get(indices[c])));
      }
      rows.add(row);
    }
    return new Table(schema, rows);
  }

  // ------------------------------------------------------------------------------------ writing

  private static String format(Column column, Object value, int row) {
    if (value == null) {
      return "";
    }
    try {
      return switch (column.type()) {
        case STRING -> quote((String) value);
        case INT -> Integer.toString((Integer) value);
        case LONG -> Long.toString((Long) value);
        case DOUBLE -> Double.toString((Double) value);
        case BOOLEAN -> Boolean.toString((Boolean) value);
        case FLOAT_LIST -> joined((float[]) value);
        case LONG_LIST -> joined((long[]) value);
      };
    } catch (ClassCastException e) {
      throw new IllegalArgumentException("column " + column.name() + ", row " + row + ": a "
          + value.getClass().getSimpleName() + " cannot be written as " + column.type(), e);
    }
  }

  private static String joined(float[] values) {
    if (values.length == 0) {
      return "\"\"";
    }
    StringBuilder s = new StringBuilder(values.length * 8);
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        s.append(' ');
      }
      s.append(values[i]);
    }
    return s.toString();
  }

  private static String joined(long[] values) {
    if (values.length == 0) {
      return "\"\"";
    }
    StringBuilder s = new StringBuilder(values.length * 4);
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        s.append(' ');
      }
      s.append(values[i]);
    }
    return s.toString();
  }

  /** The field for a string: quoted when empty or holding a comma, quote, CR or LF. */
  static String quote(String s) {
    if (!s.isEmpty() && s.chars().noneMatch(ch -> ch == ',' || ch == '"' || ch == '\r' || ch == '\n')) {
      return s;
    }
    return '"' + s.replace("\"", "\"\"") + '"';
  }

  // ------------------------------------------------------------------------------------ reading

  /** One field as read: its text, and whether it was quoted (an empty quoted field is not null). */
  private record Field(String text, boolean quoted) {}

  /** One record and the line it starts on (1-based). */
  private record Record(int line, List<Field> fields) {
    List<String> texts() {
      return fields.stream().map(Field::text).toList();
    }
  }

  private static List<Record> parse(String path, String text) {
    List<Record> records = new ArrayList<>();
    List<Field> fields = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    int line = 1;
    int recordLine = 1;
    int i = 0;
    int n = text.length();
    while (i < n) {
      char ch = text.charAt(i);
      if (ch == '"' && field.length() == 0 && !quoted) {
        // A quoted field: up to the closing quote; "" inside stands for one quote.
        quoted = true;
        int start = line;
        i++;
        while (true) {
          if (i >= n) {
            throw new InvalidInputException(path + ": line " + start
                + ": a quoted field is not closed before the end of the file");
          }
          char q = text.charAt(i);
          if (q == '"') {
            if (i + 1 < n && text.charAt(i + 1) == '"') {
              field.append('"');
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (q == '\n') {
            line++;
          }
          field.append(q);
          i++;
        }
        if (i < n && text.charAt(i) != ',' && text.charAt(i) != '\n' && text.charAt(i) != '\r') {
          throw new InvalidInputException(path + ": line " + line
              + ": text after the closing quote of a quoted field");
        }
        continue;
      }
      if (ch == ',') {
        fields.add(new Field(field.toString(), quoted));
        field.setLength(0);
        quoted = false;
        i++;
      } else if (ch == '\n' || ch == '\r') {
        fields.add(new Field(field.toString(), quoted));
        records.add(new Record(recordLine, List.copyOf(fields)));
        fields.clear();
        field.setLength(0);
        quoted = false;
        i += ch == '\r' && i + 1 < n && text.charAt(i + 1) == '\n' ? 2 : 1;
        line++;
        recordLine = line;
      } else if (ch == '"' || quoted) {
        throw new InvalidInputException(path + ": line " + line
            + ": a double quote inside an unquoted field (quote the field and double the quote)");
      } else {
        field.append(ch);
        i++;
      }
    }
    if (field.length() > 0 || quoted || !fields.isEmpty()) {
      fields.add(new Field(field.toString(), quoted));
      records.add(new Record(recordLine, List.copyOf(fields)));
    }
    return records;
  }

  private static Object parseValue(String path, int line, Column column, Field field) {
    String text = field.text();
    if (text.isEmpty() && !field.quoted()) {
      return null;
    }
    try {
      return switch (column.type()) {
        case STRING -> text;
        case INT -> Integer.parseInt(text.strip());
        case LONG -> Long.parseLong(text.strip());
        case DOUBLE -> Double.parseDouble(text.strip());
        case BOOLEAN -> parseBoolean(text.strip());
        case FLOAT_LIST -> {
          String[] parts = splitList(text);
          float[] values = new float[parts.length];
          for (int i = 0; i < parts.length; i++) {
            values[i] = Float.parseFloat(parts[i]);
          }
          yield values;
        }
        case LONG_LIST -> {
          String[] parts = splitList(text);
          long[] values = new long[parts.length];
          for (int i = 0; i < parts.length; i++) {
            values[i] = Long.parseLong(parts[i]);
          }
          yield values;
        }
      };
    } catch (IllegalArgumentException e) {
      String shown = text.length() > 60 ? text.substring(0, 60) + "..." : text;
      throw new InvalidInputException(path + ": line " + line + ", column " + column.name()
          + ": expected " + column.type() + ", found '" + shown + "'", e);
    }
  }

  private static String[] splitList(String text) {
    String stripped = text.strip();
    return stripped.isEmpty() ? new String[0] : stripped.split("\\s+");
  }

  private static Boolean parseBoolean(String text) {
    if (text.equalsIgnoreCase("true")) {
      return Boolean.TRUE;
    }
    if (text.equalsIgnoreCase("false")) {
      return Boolean.FALSE;
    }
    throw new IllegalArgumentException("not a boolean: " + text);
  }

  private static List<String> names(List<Column> columns) {
    return columns.stream().map(Column::name).toList();
  }
}
