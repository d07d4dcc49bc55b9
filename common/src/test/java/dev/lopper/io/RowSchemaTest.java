package dev.lopper.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.RowSchema.Name;
import dev.lopper.io.RowSchema.Optional;
import dev.lopper.io.RowSchema.Prefix;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RowSchemaTest {

  private static final Configuration CONF = new Configuration();

  @TempDir
  Path dir;

  /** A block of metrics, some of which a run may not measure (null), used twice in {@link Sample}. */
  record Scores(@Optional Double accuracy, @Optional Double f1Macro, @Optional Double perplexity) {}

  /** Every column type, a renamed column, an optional one and a block under two prefixes. */
  record Sample(String tensor, int axis, long parameters, double predictedDrop, boolean prunable, float[] features,
      long[] shape, @Name("group_name") String group, Integer count, Long pruned, Double cost, Boolean kept,
      @Optional Long channels, Scores scores, @Prefix("delta_") Scores delta, long samples) {}

  static final RowSchema<Sample> SCHEMA = RowSchema.of(Sample.class);

  private static Sample sample(String tensor, Long channels, Double accuracy, Double perplexity) {
    return new Sample(tensor, 1, 1L << 40, 0.25, true, new float[] {0.5f, -1.25f, Float.NaN}, new long[] {8, 1, 3},
        "g,\"1\"", 7, -3L, Double.NaN, false, channels, new Scores(accuracy, 0.5, perplexity),
        new Scores(accuracy == null ? null : accuracy - 0.9, -0.1, null), 100L);
  }

  private static final List<Sample> ROWS = List.of(
      sample("conv1.weight", 16L, 0.9, null),
      new Sample("", Integer.MIN_VALUE, Long.MIN_VALUE, -0.0, false, new float[0], new long[0], null, null, null, null,
          null, null, new Scores(Double.NaN, null, null), new Scores(null, null, null), 0L),
      sample("fc.weight", null, 0.875, 12.5));

  /** Rows compared value by value, through the schema (arrays by content, doubles by bits). */
  private static void assertSameRows(List<Sample> expected, List<Sample> actual) {
    assertEquals(expected.size(), actual.size());
    for (int r = 0; r < expected.size(); r++) {
      List<Object> e = SCHEMA.values(expected.get(r));
      List<Object> a = SCHEMA.values(actual.get(r));
      for (int c = 0; c < e.size(); c++) {
        String where = "row " + r + ", column " + SCHEMA.columns().get(c).name();
        if (e.get(c) instanceof float[] f) {
          assertArrayEquals(f, (float[]) a.get(c), where);
        } else if (e.get(c) instanceof long[] l) {
          assertArrayEquals(l, (long[]) a.get(c), where);
        } else {
          assertEquals(e.get(c), a.get(c), where);
        }
      }
    }
  }

  @Test
  void columnsFollowTheComponentsInSnakeCaseWithNestedBlocksFlattened() {
    assertEquals(List.of(
        new Column("tensor", Type.STRING), new Column("axis", Type.INT), new Column("parameters", Type.LONG),
        new Column("predicted_drop", Type.DOUBLE), new Column("prunable", Type.BOOLEAN),
        new Column("features", Type.FLOAT_LIST), new Column("shape", Type.LONG_LIST),
        new Column("group_name", Type.STRING), new Column("count", Type.INT), new Column("pruned", Type.LONG),
        new Column("cost", Type.DOUBLE), new Column("kept", Type.BOOLEAN), new Column("channels", Type.LONG),
        new Column("accuracy", Type.DOUBLE), new Column("f1_macro", Type.DOUBLE),
        new Column("perplexity", Type.DOUBLE), new Column("delta_accuracy", Type.DOUBLE),
        new Column("delta_f1_macro", Type.DOUBLE), new Column("delta_perplexity", Type.DOUBLE),
        new Column("samples", Type.LONG)), SCHEMA.columns());
    assertEquals("predicted_drop", RowSchema.snakeCase("predictedDrop"));
    assertEquals("top5", RowSchema.snakeCase("top5"));
    assertEquals("dense_us", RowSchema.snakeCase("denseUs"));
  }

  @Test
  void optionalColumnsNullInEveryRowAreLeftOutAndNanKeepsOne() {
    Table table = SCHEMA.table(ROWS);
    // channels: a value in row 0; perplexity: in row 2; delta_perplexity: in none; accuracy is NaN in row 1.
    List<String> names = table.columns().stream().map(Column::name).toList();
    assertEquals(SCHEMA.columnNames().stream().filter(n -> !n.equals("delta_perplexity")).toList(), names);
    Table withoutGroups = SCHEMA.table(List.of(sample("a", null, 0.9, null), sample("b", null, Double.NaN, null)));
    List<String> kept = withoutGroups.columns().stream().map(Column::name).toList();
    assertTrue(kept.contains("accuracy") && kept.contains("delta_accuracy"), kept.toString());
    assertTrue(!kept.contains("channels") && !kept.contains("perplexity"), kept.toString());
    assertTrue(Double.isNaN((Double) withoutGroups.rows().get(1).get(withoutGroups.indexOf("accuracy"))));
    // Required columns stay even when null in every row; no rows leave every optional column out.
    Table empty = SCHEMA.table(List.of());
    assertEquals(List.of("tensor", "axis", "parameters", "predicted_drop", "prunable", "features", "shape",
        "group_name", "count", "pruned", "cost", "kept", "samples"),
        empty.columns().stream().map(Column::name).toList());
  }

  @Test
  void rowsRoundTripThroughParquet() {
    String path = dir.resolve("rows.parquet").toString();
    ParquetTables.write(SCHEMA.table(ROWS), path, CONF);
    List<Sample> back = SCHEMA.rows(ParquetTables.read(path, CONF));
    assertSameRows(ROWS, back);
    assertNull(back.get(0).delta().perplexity(), "a column left out reads as null");
  }

  @Test
  void rowsRoundTripThroughCsv() {
    String path = dir.resolve("rows.csv").toString();
    Table written = SCHEMA.table(ROWS);
    CsvTables.write(written, path, CONF);
    assertSameRows(ROWS, SCHEMA.rows(CsvTables.read(path, CONF, written.columns())));
  }

  @Test
  void readsColumnsByNameInAnyOrderIgnoringOthers() {
    record Small(String tensor, @Optional Double accuracy, long samples) {}
    Table table = Table.builder().column("samples", Type.LONG).column("extra", Type.STRING)
        .column("tensor", Type.STRING).row(5L, "x", "a").row(6L, null, "b").build();
    List<Small> rows = RowSchema.of(Small.class).rows(table);
    assertEquals(List.of(new Small("a", null, 5), new Small("b", null, 6)), rows);
  }

  @Test
  void aWrongTypeAMissingColumnOrAnEmptyPrimitiveIsAClearError() {
    record Allocated(String tensor, double predictedDrop) {}
    RowSchema<Allocated> schema = RowSchema.of(Allocated.class);
    Table longs = Table.builder().column("tensor", Type.STRING).column("predicted_drop", Type.LONG)
        .row("a", 1L).build();
    InvalidInputException wrong = assertThrows(InvalidInputException.class, () -> schema.rows(longs));
    assertEquals("column predicted_drop is LONG, but Allocated.predictedDrop reads DOUBLE", wrong.getMessage());

    Table missing = Table.builder().column("tensor", Type.STRING).column("drop", Type.DOUBLE).row("a", 1.0).build();
    InvalidInputException absent = assertThrows(InvalidInputException.class, () -> schema.rows(missing));
    assertEquals("no column predicted_drop for Allocated.predictedDrop; the table has [tensor, drop]",
        absent.getMessage());

    Table empty = Table.builder().column("tensor", Type.STRING).column("predicted_drop", Type.DOUBLE)
        .row("a", 1.0).row("b", null).build();
    InvalidInputException hole = assertThrows(InvalidInputException.class, () -> schema.rows(empty));
    assertEquals("row 1, column predicted_drop: empty, but Allocated.predictedDrop is a double and needs a value",
        hole.getMessage());

    Table mistyped = Table.builder().column("tensor", Type.STRING).column("predicted_drop", Type.DOUBLE)
        .row("a", "0.5").build();
    InvalidInputException value = assertThrows(InvalidInputException.class, () -> schema.rows(mistyped));
    assertEquals("row 0, column predicted_drop: a String where DOUBLE (for Allocated.predictedDrop) was expected",
        value.getMessage());
  }

  @Test
  void refusesRecordsThatMakeNoTable() {
    record Floats(float value) {}
    record OptionalPrimitive(@Optional long channels) {}
    record Twice(String tensor, @Name("tensor") String other) {}
    record Block(double accuracy) {}
    record SameBlockTwice(Block a, Block b) {}
    record PrefixOnScalar(@Prefix("x_") double accuracy) {}
    record NamedBlock(@Name("m") Block block) {}
    assertEquals("Floats.value is a float, which no column type holds; expected one of String, int, Integer, long,"
        + " Long, double, Double, boolean, Boolean, float[], long[] or a record",
        assertThrows(IllegalArgumentException.class, () -> RowSchema.of(Floats.class)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RowSchema.of(OptionalPrimitive.class))
        .getMessage().contains("use its boxed type"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RowSchema.of(Twice.class))
        .getMessage().contains("'tensor' (from Twice.other)"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> RowSchema.of(SameBlockTwice.class))
        .getMessage().contains("'accuracy' (from Block.accuracy)"));
    assertThrows(IllegalArgumentException.class, () -> RowSchema.of(PrefixOnScalar.class));
    assertThrows(IllegalArgumentException.class, () -> RowSchema.of(NamedBlock.class));
  }

  @Test
  void aNullNestedRecordIsRefusedWhenWriting() {
    Sample broken = new Sample("a", 0, 0, 0, false, null, null, null, null, null, null, null, null, null,
        new Scores(null, null, null), 0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SCHEMA.table(List.of(broken)));
    assertEquals("Sample.scores is null; a nested record's columns need a record", e.getMessage());
  }
}
