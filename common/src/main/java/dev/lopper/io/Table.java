package dev.lopper.io;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A small in-memory table: named, typed columns and rows of values. Every table Lopper reads or
 * writes for people and machines (sensitivity, allocation, mask summary, validation data in tests)
 * passes through this type, and {@link ParquetTables} and {@link CsvTables} are its only writers.
 * Tables of typed rows are made and read back through a {@link RowSchema}.
 *
 * <p>Values per type: {@code STRING} String, {@code INT} Integer, {@code LONG} Long, {@code DOUBLE}
 * Double, {@code BOOLEAN} Boolean, {@code FLOAT_LIST} float[], {@code LONG_LIST} long[]. A value may
 * be null (written as Parquet null, empty CSV cell).
 *
 * @param columns the columns, in order
 * @param rows the rows, each with one value per column
 */
public record Table(List<Column> columns, List<List<Object>> rows) {

  /** A column's type. */
  public enum Type {
    STRING, INT, LONG, DOUBLE, BOOLEAN, FLOAT_LIST, LONG_LIST
  }

  /** A named, typed column. */
  public record Column(String name, Type type) {
    public Column {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(type, "type");
    }
  }

  public Table {
    columns = List.copyOf(columns);
    List<List<Object>> copy = new ArrayList<>(rows.size());
    for (List<Object> row : rows) {
      if (row.size() != columns.size()) {
        throw new IllegalArgumentException("row has " + row.size() + " values, table has "
            + columns.size() + " columns");
      }
      copy.add(Collections.unmodifiableList(new ArrayList<>(row)));
    }
    rows = Collections.unmodifiableList(copy);
  }

  /** Index of the column named {@code name}, or -1. */
  public int indexOf(String name) {
    for (int i = 0; i < columns.size(); i++) {
      if (columns.get(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  /** A builder that fixes the columns first, then takes rows. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds a {@link Table}: columns first, then rows. */
  public static final class Builder {
    private final List<Column> columns = new ArrayList<>();
    private final List<List<Object>> rows = new ArrayList<>();

    public Builder column(String name, Type type) {
      if (!rows.isEmpty()) {
        throw new IllegalStateException("add columns before rows");
      }
      columns.add(new Column(name, type));
      return this;
    }

    public Builder row(Object... values) {
      rows.add(java.util.Arrays.asList(values));
      return this;
    }

    public Table build() {
      return new Table(columns, rows);
    }
  }
}
