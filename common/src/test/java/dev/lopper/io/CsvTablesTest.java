package dev.lopper.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvTablesTest {

  private static final Configuration CONF = new Configuration();

  @TempDir
  Path dir;

  private String written(Table table) throws IOException {
    Path file = dir.resolve("t.csv");
    CsvTables.write(table, file.toString(), CONF);
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  @Test
  void quotesCommasQuotesAndNewlinesAsRfc4180() throws IOException {
    Table table = Table.builder()
        .column("text", Type.STRING)
        .column("a,b", Type.INT)
        .row("plain", 1)
        .row("a,b", 2)
        .row("say \"hi\"", 3)
        .row("two\nlines", 4)
        .row("cr\r", 5)
        .row("", 6)
        .row(null, null)
        .build();
    assertEquals("text,\"a,b\"\n"
        + "plain,1\n"
        + "\"a,b\",2\n"
        + "\"say \"\"hi\"\"\",3\n"
        + "\"two\nlines\",4\n"
        + "\"cr\r\",5\n"
        + "\"\",6\n"
        + ",\n", written(table));
  }

  @Test
  void writesNumbersListsAndBooleansAsExpectedText() throws IOException {
    Table table = Table.builder()
        .column("d", Type.DOUBLE)
        .column("l", Type.LONG)
        .column("b", Type.BOOLEAN)
        .column("f", Type.FLOAT_LIST)
        .column("t", Type.LONG_LIST)
        .row(0.1, -5L, true, new float[] {0.5f, 0.1f, -3f}, new long[] {1, 22})
        .row(1e-5, Long.MAX_VALUE, false, new float[0], new long[0])
        .row(Double.NaN, 0L, null, null, null)
        .row(Double.NEGATIVE_INFINITY, 1L, true, new float[] {1e-7f}, new long[] {-1})
        .build();
    assertEquals("d,l,b,f,t\n"
        + "0.1,-5,true,0.5 0.1 -3.0,1 22\n"
        + "1.0E-5,9223372036854775807,false,\"\",\"\"\n"
        + "NaN,0,,,\n"
        + "-Infinity,1,true,1.0E-7,-1\n", written(table));
  }

  @Test
  void roundTripsEveryTypeIncludingNullsAndEmptyLists() {
    Table table = ParquetTablesTest.everyType();
    String path = dir.resolve("t.csv").toString();
    CsvTables.write(table, path, CONF);
    ParquetTablesTest.assertSameTable(table, CsvTables.read(path, CONF, table.columns()));
  }

  @Test
  void readsColumnsByNameFromCrLfTextWithQuotedNewlines() throws IOException {
    Path file = dir.resolve("in.csv");
    Files.writeString(file, "\uFEFFextra,label,features\r\n"
        + "\"x\r\ny\",3,0.25 0.5\r\n"
        + "z,,\"\"\r\n", StandardCharsets.UTF_8);
    List<Column> schema = List.of(new Column("features", Type.FLOAT_LIST), new Column("label", Type.INT));
    Table table = CsvTables.read(file.toString(), CONF, schema);
    assertEquals(schema, table.columns());
    assertEquals(2, table.rows().size());
    assertArrayEquals(new float[] {0.25f, 0.5f}, (float[]) table.rows().get(0).get(0));
    assertEquals(3, table.rows().get(0).get(1));
    assertArrayEquals(new float[0], (float[]) table.rows().get(1).get(0));
    assertEquals(Arrays.asList((Object) null), table.rows().get(1).subList(1, 2));
  }

  @Test
  void refusesBadValuesNamingLineAndColumn() throws IOException {
    Path file = dir.resolve("bad.csv");
    Files.writeString(file, "id,score\n1,0.5\n2,\"multi\nline\"\n3,high\n");
    List<Column> schema = List.of(new Column("id", Type.INT), new Column("score", Type.DOUBLE));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> CsvTables.read(file.toString(), CONF, schema));
    // The quoted field spans lines 3 and 4, so the record of 'multi\nline' starts on line 3.
    assertTrue(e.getMessage().endsWith(": line 3, column score: expected DOUBLE, found 'multi\nline'"),
        e.getMessage());

    Files.writeString(file, "id,score\n1,0.5\n2\n");
    InvalidInputException fields = assertThrows(InvalidInputException.class,
        () -> CsvTables.read(file.toString(), CONF, schema));
    assertTrue(fields.getMessage().endsWith(": line 3 has 1 fields, the header has 2"),
        fields.getMessage());

    InvalidInputException missing = assertThrows(InvalidInputException.class,
        () -> CsvTables.read(file.toString(), CONF, List.of(new Column("loss", Type.DOUBLE))));
    assertTrue(missing.getMessage().contains("no column loss"), missing.getMessage());

    Files.writeString(file, "id\n\"1\n");
    InvalidInputException open = assertThrows(InvalidInputException.class,
        () -> CsvTables.read(file.toString(), CONF, List.of(new Column("id", Type.INT))));
    assertTrue(open.getMessage().contains("line 2: a quoted field is not closed"), open.getMessage());
  }

  @Test
  void failedWriteLeavesNoFile() throws IOException {
    Table bad = Table.builder().column("id", Type.INT).row(1).row(2L).build();
    String path = dir.resolve("bad.csv").toString();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvTables.write(bad, path, CONF));
    assertTrue(e.getMessage().contains("column id, row 1"), e.getMessage());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(), files.toList());
    }
  }
}
