package dev.lopper.io;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table.Column;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The columns of a table whose rows are records of one type, derived from the record's components:
 * the one place where a table's column names, types and order are spelled out, and the conversion
 * between such rows and a {@link Table} (which {@link ParquetTables} and {@link CsvTables} write).
 *
 * <pre>{@code
 * public record AllocationRow(String tensor, long parameters, double sparsity, long pruned,
 *     double predictedDrop) {
 *   public static final RowSchema<AllocationRow> SCHEMA = RowSchema.of(AllocationRow.class);
 * }
 * ParquetTables.write(AllocationRow.SCHEMA.table(rows), path, conf);
 * List<AllocationRow> back = AllocationRow.SCHEMA.rows(ParquetTables.read(path, conf));
 * }</pre>
 *
 * <p>Each component, in declaration order, is one column, or several for a nested record:
 *
 * <ul>
 *   <li>its name is the component's name in snake case ({@code predictedDrop} is {@code
 *       predicted_drop}, {@code f1Macro} is {@code f1_macro}), or what {@link Name} says;
 *   <li>its type follows the component's Java type: {@code String} is STRING, {@code int} and
 *       {@code Integer} INT, {@code long} and {@code Long} LONG, {@code double} and {@code Double}
 *       DOUBLE, {@code boolean} and {@code Boolean} BOOLEAN, {@code float[]} FLOAT_LIST and {@code
 *       long[]} LONG_LIST;
 *   <li>a component whose type is a record is flattened into that record's columns, their names
 *       preceded by {@link Prefix}'s text when it has one, so one block of columns (the metrics of
 *       a model, say) can appear twice in a row under two prefixes;
 *   <li>a value of a reference type may be null (an empty cell); a nested record may not;
 *   <li>a component marked {@link Optional} is a column only of tables in which some row has a
 *       value for it: {@link #table} leaves it out when it is null in every row, and {@link #rows}
 *       reads a table without it as null in every row. Null means "not there" (a metric a run did not
 *       measure); NaN is a value and keeps the column.
 * </ul>
 *
 * <p>Reading finds the columns by name, so a table may hold them in any order and hold others,
 * which are left out. A required column that is missing, a column of another type than the
 * component's, or an empty cell for a primitive component is {@link InvalidInputException} naming
 * the column, the record's component and the row.
 *
 * @param <R> the record type of a row
 */
public final class RowSchema<R extends Record> {

  /** The column name of a component, instead of its name in snake case. */
  @Documented
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.RECORD_COMPONENT)
  public @interface Name {
    /** The column's name. */
    String value();
  }

  /** For a component whose type is a record: the text that precedes the names of its columns. */
  @Documented
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.RECORD_COMPONENT)
  public @interface Prefix {
    /** The text, e.g. {@code delta_}. */
    String value();
  }

  /**
   * A column that a table holds only when some row has a value in it: left out when the component
   * is null in every row, read as null when absent. Only for components that can hold null.
   */
  @Documented
  @Retention(RetentionPolicy.RUNTIME)
  @Target(ElementType.RECORD_COMPONENT)
  public @interface Optional {}

  private static final Map<Class<?>, Table.Type> TYPES = Map.ofEntries(
      Map.entry(String.class, Table.Type.STRING),
      Map.entry(int.class, Table.Type.INT),
      Map.entry(Integer.class, Table.Type.INT),
      Map.entry(long.class, Table.Type.LONG),
      Map.entry(Long.class, Table.Type.LONG),
      Map.entry(double.class, Table.Type.DOUBLE),
      Map.entry(Double.class, Table.Type.DOUBLE),
      Map.entry(boolean.class, Table.Type.BOOLEAN),
      Map.entry(Boolean.class, Table.Type.BOOLEAN),
      Map.entry(float[].class, Table.Type.FLOAT_LIST),
      Map.entry(long[].class, Table.Type.LONG_LIST));

  /** The Java class of a table's values per type, as {@link Table} documents them. */
  private static final Map<Table.Type, Class<?>> VALUE_CLASSES = Map.of(
      Table.Type.STRING, String.class,
      Table.Type.INT, Integer.class,
      Table.Type.LONG, Long.class,
      Table.Type.DOUBLE, Double.class,
      Table.Type.BOOLEAN, Boolean.class,
      Table.Type.FLOAT_LIST, float[].class,
      Table.Type.LONG_LIST, long[].class);

  /**
   * One component: a column (leaf) or a nested record's columns.
   *
   * @param where {@code Record.component}, for messages
   * @param accessor the component's accessor
   * @param column the column of a leaf, null for a nested record
   * @param primitive whether a leaf's Java type is primitive (cannot read null)
   * @param optional whether a leaf is {@link Optional}
   * @param nested the nested record's schema, null for a leaf
   */
  private record Part(String where, Method accessor, Column column, boolean primitive, boolean optional,
      RowSchema<?> nested) {}

  private final Class<R> type;
  private final Constructor<R> constructor;
  private final List<Part> parts;
  /** The leaves of this record and its nested records, depth first: one per column. */
  private final List<Part> leaves;
  private final List<Column> columns;

  private RowSchema(Class<R> type, String prefix, Set<Class<?>> enclosing) {
    if (!type.isRecord()) {
      throw new IllegalArgumentException(type.getName() + " is not a record");
    }
    if (!enclosing.add(type)) {
      throw new IllegalArgumentException(type.getName() + " contains itself: " + enclosing);
    }
    this.type = type;
    RecordComponent[] components = type.getRecordComponents();
    Class<?>[] types = new Class<?>[components.length];
    List<Part> parts = new ArrayList<>(components.length);
    List<Part> leaves = new ArrayList<>();
    for (int i = 0; i < components.length; i++) {
      RecordComponent c = components[i];
      types[i] = c.getType();
      String where = type.getSimpleName() + "." + c.getName();
      Method accessor = c.getAccessor();
      accessor.trySetAccessible();
      Name name = c.getAnnotation(Name.class);
      Prefix nestedPrefix = c.getAnnotation(Prefix.class);
      boolean optional = c.isAnnotationPresent(Optional.class);
      if (c.getType().isRecord()) {
        if (name != null || optional) {
          throw new IllegalArgumentException(where + " is a nested record: it takes @Prefix, not @"
              + (name != null ? "Name" : "Optional") + " (mark its own components instead)");
        }
        RowSchema<?> nested = new RowSchema<>(c.getType().asSubclass(Record.class),
            prefix + (nestedPrefix == null ? "" : nestedPrefix.value()), enclosing);
        Part part = new Part(where, accessor, null, false, false, nested);
        parts.add(part);
        leaves.addAll(nested.leaves);
        continue;
      }
      if (nestedPrefix != null) {
        throw new IllegalArgumentException(where + " is not a record: @Prefix is for nested records, @Name names"
            + " a column");
      }
      Table.Type columnType = TYPES.get(c.getType());
      if (columnType == null) {
        throw new IllegalArgumentException(where + " is a " + c.getType().getSimpleName()
            + ", which no column type holds; expected one of String, int, Integer, long, Long, double, Double,"
            + " boolean, Boolean, float[], long[] or a record");
      }
      if (optional && c.getType().isPrimitive()) {
        throw new IllegalArgumentException(where + " is @Optional but a primitive " + c.getType()
            + ", which cannot be null; use its boxed type");
      }
      Column column = new Column(prefix + (name == null ? snakeCase(c.getName()) : name.value()), columnType);
      Part part = new Part(where, accessor, column, c.getType().isPrimitive(), optional, null);
      parts.add(part);
      leaves.add(part);
    }
    enclosing.remove(type);
    try {
      this.constructor = type.getDeclaredConstructor(types);
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(type.getName() + " has no canonical constructor", e);
    }
    this.constructor.trySetAccessible();
    this.parts = List.copyOf(parts);
    this.leaves = List.copyOf(leaves);
    List<Column> columns = new ArrayList<>(leaves.size());
    Set<String> names = new HashSet<>();
    for (Part leaf : leaves) {
      if (leaf.column().name().isEmpty() || !names.add(leaf.column().name())) {
        throw new IllegalArgumentException(type.getSimpleName() + ": column names must be non-empty and unique,"
            + " found '" + leaf.column().name() + "' (from " + leaf.where() + ") twice or empty");
      }
      columns.add(leaf.column());
    }
    this.columns = List.copyOf(columns);
  }

  /**
   * The schema of rows of record type {@code type}.
   *
   * @throws IllegalArgumentException when a component's type has no column type, an annotation does
   *     not fit its component, or two columns would have the same name
   */
  public static <R extends Record> RowSchema<R> of(Class<R> type) {
    return new RowSchema<>(type, "", new LinkedHashSet<>());
  }

  /** The record type of a row. */
  public Class<R> type() {
    return type;
  }

  /** Every column the record declares, optional ones included, in order. */
  public List<Column> columns() {
    return columns;
  }

  /** The names of {@link #columns()}, in order. */
  public List<String> columnNames() {
    return columns.stream().map(Column::name).toList();
  }

  /**
   * The values of {@code row}, one per column of {@link #columns()}, in order (nested records
   * flattened).
   *
   * @throws IllegalArgumentException when a nested record is null
   */
  public List<Object> values(R row) {
    List<Object> out = new ArrayList<>(columns.size());
    appendValues(row, out);
    return Collections.unmodifiableList(out);
  }

  /**
   * The table of {@code rows}: one table row per record, with {@link #columns()} less the
   * {@link Optional} columns that are null in every row (all of them when there are no rows).
   *
   * @throws IllegalArgumentException when a row or a nested record in it is null
   */
  public Table table(List<R> rows) {
    List<List<Object>> values = new ArrayList<>(rows.size());
    for (int r = 0; r < rows.size(); r++) {
      R row = rows.get(r);
      if (row == null) {
        throw new IllegalArgumentException(type.getSimpleName() + " rows: row " + r + " is null");
      }
      List<Object> out = new ArrayList<>(columns.size());
      appendValues(row, out);
      values.add(out);
    }
    boolean[] kept = new boolean[leaves.size()];
    int keptCount = 0;
    for (int c = 0; c < leaves.size(); c++) {
      kept[c] = !leaves.get(c).optional() || hasValue(values, c);
      keptCount += kept[c] ? 1 : 0;
    }
    if (keptCount == leaves.size()) {
      return new Table(columns, values);
    }
    List<Column> keptColumns = new ArrayList<>(keptCount);
    for (int c = 0; c < leaves.size(); c++) {
      if (kept[c]) {
        keptColumns.add(columns.get(c));
      }
    }
    List<List<Object>> keptValues = new ArrayList<>(values.size());
    for (List<Object> row : values) {
      List<Object> out = new ArrayList<>(keptCount);
      for (int c = 0; c < leaves.size(); c++) {
        if (kept[c]) {
          out.add(row.get(c));
        }
      }
      keptValues.add(out);
    }
    return new Table(keptColumns, keptValues);
  }

  /**
   * The rows of {@code table}, read by column name: an {@link Optional} column the table lacks is
   * null in every row, columns the record does not declare are left out.
   *
   * @throws InvalidInputException when a required column is missing, a column's type differs from
   *     its component's, an empty cell is read into a primitive component, or the record's
   *     constructor refuses the values; the message names the column, component and row
   */
  public List<R> rows(Table table) {
    int[] index = new int[leaves.size()];
    for (int c = 0; c < leaves.size(); c++) {
      Part leaf = leaves.get(c);
      Column column = leaf.column();
      int i = table.indexOf(column.name());
      if (i < 0 && !leaf.optional()) {
        throw new InvalidInputException("no column " + column.name() + " for " + leaf.where() + "; the table has "
            + table.columns().stream().map(Column::name).toList());
      }
      if (i >= 0 && table.columns().get(i).type() != column.type()) {
        throw new InvalidInputException("column " + column.name() + " is " + table.columns().get(i).type()
            + ", but " + leaf.where() + " reads " + column.type());
      }
      index[c] = i;
    }
    List<R> rows = new ArrayList<>(table.rows().size());
    for (int r = 0; r < table.rows().size(); r++) {
      rows.add(construct(table.rows().get(r), r, index, new int[] {0}));
    }
    return Collections.unmodifiableList(rows);
  }

  @Override
  public String toString() {
    return "RowSchema[" + type.getSimpleName() + ": " + columns + "]";
  }

  // ---------------------------------------------------------------------------------------------

  private void appendValues(Record row, List<Object> out) {
    for (Part part : parts) {
      Object value = get(part, row);
      if (part.nested() == null) {
        out.add(value);
      } else if (value == null) {
        throw new IllegalArgumentException(part.where() + " is null; a nested record's columns need a record");
      } else {
        part.nested().appendValues((Record) value, out);
      }
    }
  }

  private static Object get(Part part, Record row) {
    try {
      return part.accessor().invoke(row);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot read " + part.where(), e);
    } catch (InvocationTargetException e) {
      throw rethrow(e.getCause());
    }
  }

  private static boolean hasValue(List<List<Object>> rows, int column) {
    for (List<Object> row : rows) {
      if (row.get(column) != null) {
        return true;
      }
    }
    return false;
  }

  /** The record of table row {@code r}; {@code next[0]} is this record's first leaf in {@code index}. */
  private R construct(List<Object> tableRow, int r, int[] index, int[] next) {
    Object[] arguments = new Object[parts.size()];
    for (int p = 0; p < parts.size(); p++) {
      Part part = parts.get(p);
      if (part.nested() != null) {
        arguments[p] = part.nested().construct(tableRow, r, index, next);
        continue;
      }
      int i = index[next[0]++];
      Object value = i < 0 ? null : tableRow.get(i);
      if (value == null && part.primitive()) {
        throw new InvalidInputException("row " + r + ", column " + part.column().name() + ": empty, but "
            + part.where() + " is a " + part.accessor().getReturnType() + " and needs a value");
      }
      if (value != null && !VALUE_CLASSES.get(part.column().type()).isInstance(value)) {
        throw new InvalidInputException("row " + r + ", column " + part.column().name() + ": a "
            + value.getClass().getSimpleName() + " where " + part.column().type() + " (for " + part.where()
            + ") was expected");
      }
      arguments[p] = value;
    }
    try {
      return constructor.newInstance(arguments);
    } catch (InvocationTargetException e) {
      throw new InvalidInputException("row " + r + ": " + type.getSimpleName() + " refuses its values: "
          + e.getCause().getMessage(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot construct " + type.getName(), e);
    }
  }

  private static RuntimeException rethrow(Throwable cause) {
    if (cause instanceof RuntimeException runtime) {
      return runtime;
    }
    if (cause instanceof Error error) {
      throw error;
    }
    return new IllegalStateException(cause);
  }

  /** {@code predictedDrop} as {@code predicted_drop}: an underscore before each capital, lower-cased. */
  static String snakeCase(String name) {
    StringBuilder s = new StringBuilder(name.length() + 4);
    for (int i = 0; i < name.length(); i++) {
      char ch = name.charAt(i);
      if (Character.isUpperCase(ch)) {
        if (i > 0) {
          s.append('_');
        }
        s.append(Character.toLowerCase(ch));
      } else {
        s.append(ch);
      }
    }
    return s.toString();
  }
}
