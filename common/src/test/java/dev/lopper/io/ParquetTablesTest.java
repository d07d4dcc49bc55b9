package dev.lopper.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table.Column;
import dev.lopper.io.Table.Type;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.BlockMetaData;
import org.apache.parquet.hadoop.metadata.ColumnChunkMetaData;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetTablesTest {

  private static final Configuration CONF = new Configuration();

  @TempDir
  Path dir;

  static Table everyType() {
    return Table.builder()
        .column("name", Type.STRING)
        .column("count", Type.INT)
        .column("total", Type.LONG)
        .column("score", Type.DOUBLE)
        .column("kept", Type.BOOLEAN)
        .column("features", Type.FLOAT_LIST)
        .column("tokens", Type.LONG_LIST)
        .row("conv1.weight", 7, 1L << 40, 0.1, true, new float[] {0.5f, -1.25f, Float.MIN_VALUE},
            new long[] {1, Long.MAX_VALUE})
        .row(null, null, null, null, null, null, null)
        .row("", Integer.MIN_VALUE, Long.MIN_VALUE, Double.NaN, false, new float[0], new long[0])
        .row("naïve, \"quoted\"\nline", 0, 0L, -0.0, false, new float[] {Float.NaN, -0.0f},
            new long[] {-3})
        .row("x", -1, -1L, Double.NEGATIVE_INFINITY, true, new float[] {3.4028235e38f}, null)
        .build();
  }

  /** Equal tables: same columns, and per cell equal values (arrays by content, doubles by bits). */
  static void assertSameTable(Table expected, Table actual) {
    assertEquals(expected.columns(), actual.columns());
    assertEquals(expected.rows().size(), actual.rows().size(), "rows");
    for (int r = 0; r < expected.rows().size(); r++) {
      for (int c = 0; c < expected.columns().size(); c++) {
        Object e = expected.rows().get(r).get(c);
        Object a = actual.rows().get(r).get(c);
        String where = "row " + r + ", column " + expected.columns().get(c).name();
        if (e instanceof float[] ef) {
          assertArrayEquals(ef, (float[]) a, where);
        } else if (e instanceof long[] el) {
          assertArrayEquals(el, (long[]) a, where);
        } else {
          assertEquals(e, a, where);
        }
      }
    }
  }

  @Test
  void roundTripsEveryTypeIncludingNullsAndEmptyLists() {
    String path = dir.resolve("t.parquet").toString();
    Table table = everyType();
    ParquetTables.write(table, path, CONF);
    assertSameTable(table, ParquetTables.read(path, CONF));
  }

  @Test
  void writesTheSchemaSparkWritesWithSnappy() throws IOException {
    String path = dir.resolve("t.parquet").toString();
    ParquetTables.write(everyType(), path, CONF);
    MessageType expected = MessageTypeParser.parseMessageType("""
        message table {
          optional binary name (STRING);
          optional int32 count;
          optional int64 total;
          optional double score;
          optional boolean kept;
          optional group features (LIST) { repeated group list { optional float element; } }
          optional group tokens (LIST) { repeated group list { optional int64 element; } }
        }""");
    try (ParquetFileReader reader = ParquetFileReader.open(
        HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(path), CONF))) {
      assertEquals(expected, reader.getFooter().getFileMetaData().getSchema());
      assertEquals(5, reader.getRecordCount());
      for (BlockMetaData block : reader.getFooter().getBlocks()) {
        for (ColumnChunkMetaData chunk : block.getColumns()) {
          assertEquals(CompressionCodecName.SNAPPY, chunk.getCodec(), chunk.getPath().toString());
        }
      }
    }
  }

  /** Writes one column of values with parquet-mr's example writer, laid out by {@code schema}. */
  private String writeWithGroupApi(String name, String schema, List<Group> out)
      throws IOException {
    MessageType type = MessageTypeParser.parseMessageType(schema);
    Path file = dir.resolve(name);
    try (ParquetWriter<Group> writer = ExampleParquetWriter
        .builder(new org.apache.hadoop.fs.Path(file.toString())).withType(type).withConf(CONF)
        .build()) {
      for (Group g : out) {
        writer.write(g);
      }
    }
    return file.toString();
  }

  @Test
  void readsListsLaidOutAsPyarrowSparkLegacyAndTwoLevelWritersDo() throws IOException {
    // pyarrow (before 13): 3-level with "item"; Spark legacy: "bag/array"; parquet-avro legacy:
    // 2-level "repeated float array"; protobuf style: a bare repeated field.
    String[] schemas = {
        "message m { optional group f (LIST) { repeated group list { optional float item; } } }",
        "message m { optional group f (LIST) { repeated group bag { optional float array; } } }",
        "message m { required group f (LIST) { repeated float array; } }",
        "message m { repeated float f; }",
        "message m { optional group f (LIST) { repeated group list { required double element; } } }",
    };
    for (int s = 0; s < schemas.length; s++) {
      MessageType type = MessageTypeParser.parseMessageType(schemas[s]);
      SimpleGroupFactory factory = new SimpleGroupFactory(type);
      List<Group> records = List.of(factory.newGroup(), factory.newGroup());
      fill(type, records.get(0), new double[] {1.5, -2.25});
      fill(type, records.get(1), new double[] {});
      String path = writeWithGroupApi("s" + s + ".parquet", schemas[s], records);
      Table table = ParquetTables.read(path, CONF);
      assertEquals(List.of(new Column("f", Type.FLOAT_LIST)), table.columns(), schemas[s]);
      assertArrayEquals(new float[] {1.5f, -2.25f}, (float[]) table.rows().get(0).get(0), schemas[s]);
      assertArrayEquals(new float[0], (float[]) table.rows().get(1).get(0), schemas[s]);
    }
  }

  /** Adds {@code values} to field 0 of {@code record} following the list layout of {@code type}. */
  private static void fill(MessageType type, Group record, double[] values) {
    org.apache.parquet.schema.Type f = type.getType(0);
    boolean isDouble = f.toString().contains("double");
    if (f.isPrimitive()) {
      for (double v : values) {
        record.add(0, (float) v);
      }
      return;
    }
    Group list = record.addGroup(0);
    org.apache.parquet.schema.Type repeated = f.asGroupType().getType(0);
    for (double v : values) {
      if (repeated.isPrimitive()) {
        list.add(0, (float) v);
      } else if (isDouble) {
        list.addGroup(0).add(0, v);
      } else {
        list.addGroup(0).add(0, (float) v);
      }
    }
  }

  @Test
  void mapsScalarTypesOfOtherWriters() throws IOException {
    String schema = """
        message spark_schema {
          optional float f;
          required int32 small (INTEGER(16,true));
          optional int32 unsigned (INTEGER(32,false));
          optional int64 big (INTEGER(64,true));
          optional binary text (UTF8);
          optional group ids (LIST) { repeated group list { optional int32 element; } }
        }""";
    MessageType type = MessageTypeParser.parseMessageType(schema);
    SimpleGroupFactory factory = new SimpleGroupFactory(type);
    Group g = factory.newGroup();
    g.add("f", 0.1f);
    g.add("small", -7);
    g.add("unsigned", -1); // 2^32 - 1 as unsigned
    g.add("big", 5L);
    g.add("text", "é");
    Group ids = g.addGroup("ids");
    ids.addGroup(0).add(0, 4);
    ids.addGroup(0).add(0, -9);
    Group empty = factory.newGroup();
    empty.add("small", 0);
    String path = writeWithGroupApi("scalars.parquet", schema, List.of(g, empty));

    Table table = ParquetTables.read(path, CONF);
    assertEquals(List.of(new Column("f", Type.DOUBLE), new Column("small", Type.INT),
        new Column("unsigned", Type.LONG), new Column("big", Type.LONG),
        new Column("text", Type.STRING), new Column("ids", Type.LONG_LIST)), table.columns());
    List<Object> row = table.rows().get(0);
    assertEquals((double) 0.1f, row.get(0));
    assertEquals(-7, row.get(1));
    assertEquals(4294967295L, row.get(2));
    assertEquals(5L, row.get(3));
    assertEquals("é", row.get(4));
    assertArrayEquals(new long[] {4, -9}, (long[]) row.get(5));
    assertEquals(Arrays.asList(null, 0, null, null, null, null), table.rows().get(1));
  }

  @Test
  void readsSparkDirectoryOfPartFilesInNameOrder() throws IOException {
    Path out = Files.createDirectory(dir.resolve("spark.parquet"));
    Table first = Table.builder().column("id", Type.INT).row(1).row(2).build();
    Table second = Table.builder().column("id", Type.INT).row(3).build();
    ParquetTables.write(second, out.resolve("part-00001-abc.snappy.parquet").toString(), CONF);
    ParquetTables.write(first, out.resolve("part-00000-abc.snappy.parquet").toString(), CONF);
    Files.writeString(out.resolve("_SUCCESS"), "");
    Files.writeString(out.resolve(".part-00000-abc.snappy.parquet.crc"), "not parquet");

    Table table = ParquetTables.read(out.toString(), CONF);
    assertEquals(List.of(List.of(1), List.of(2), List.of(3)), table.rows());
  }

  @Test
  void schemaAndRowGroupsComeFromTheFooter() throws IOException {
    Path out = Files.createDirectory(dir.resolve("parts.parquet"));
    ParquetTables.write(Table.builder().column("id", Type.LONG).row(3L).build(),
        out.resolve("part-00001.parquet").toString(), CONF);
    ParquetTables.write(everyType(), out.resolve("part-00000.parquet").toString(), CONF);
    Files.writeString(out.resolve("_SUCCESS"), "");
    MessageType expected = ParquetTables.schemaOf(everyType().columns());
    assertEquals(expected, ParquetTables.footer(out.toString(), CONF).schema(), "the first part file by name");
    assertEquals(expected, ParquetTables.footer(out.resolve("part-00000.parquet").toString(), CONF).schema());

    assertEquals(-1, ParquetTables.footer(out.toString(), CONF).rowGroups(), "several part files: not counted");
    assertEquals(1, ParquetTables.footer(out.resolve("part-00000.parquet").toString(), CONF).rowGroups());

    Path text = Files.writeString(dir.resolve("notes.parquet"), "id\n1\n");
    InvalidInputException notParquet = assertThrows(InvalidInputException.class,
        () -> ParquetTables.footer(text.toString(), CONF));
    assertTrue(notParquet.getMessage().contains("notes.parquet"), notParquet.getMessage());
  }

  @Test
  void refusesPartFilesOfDifferentSchemas() {
    Path out = dir.resolve("mixed");
    ParquetTables.write(Table.builder().column("id", Type.INT).row(1).build(),
        out.resolve("part-0.parquet").toString(), CONF);
    ParquetTables.write(Table.builder().column("id", Type.LONG).row(1L).build(),
        out.resolve("part-1.parquet").toString(), CONF);
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(out.toString(), CONF));
    assertTrue(e.getMessage().contains("different schemas"), e.getMessage());
  }

  @Test
  void refusesNullListElementNamingColumnAndRow() throws IOException {
    String schema = "message m { optional group f (LIST) { repeated group list { optional float element; } } }";
    MessageType type = MessageTypeParser.parseMessageType(schema);
    SimpleGroupFactory factory = new SimpleGroupFactory(type);
    Group ok = factory.newGroup();
    ok.addGroup(0).addGroup(0).add(0, 1f);
    Group bad = factory.newGroup();
    Group list = bad.addGroup(0);
    list.addGroup(0).add(0, 2f);
    list.addGroup(0); // a null element
    String path = writeWithGroupApi("nulls.parquet", schema, List.of(ok, bad));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(path, CONF));
    assertTrue(e.getMessage().contains("column f, row 1: list element 1 is null"), e.getMessage());
  }

  @Test
  void refusesStructColumnsAndNonParquetFiles() throws IOException {
    String schema = "message m { optional group s { optional int32 a; optional int32 b; } }";
    MessageType type = MessageTypeParser.parseMessageType(schema);
    Group g = new SimpleGroupFactory(type).newGroup();
    g.addGroup(0).add(0, 1);
    String path = writeWithGroupApi("struct.parquet", schema, List.of(g));
    InvalidInputException struct = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(path, CONF));
    assertTrue(struct.getMessage().contains("column s: unsupported type"), struct.getMessage());

    Path text = Files.writeString(dir.resolve("table.parquet"), "id\n1\n");
    InvalidInputException notParquet = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(text.toString(), CONF));
    assertTrue(notParquet.getMessage().startsWith("file:" + text), notParquet.getMessage());

    InvalidInputException missing = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(dir.resolve("absent.parquet").toString(), CONF));
    assertTrue(missing.getMessage().contains("no such file"), missing.getMessage());
  }

  @Test
  void readsOnlyTheNamedColumnsWhateverTheOthersHold() throws IOException {
    String schema = """
        message m {
          optional group meta { optional int32 a; optional int32 b; }
          optional binary text (STRING);
          optional int64 n;
        }""";
    MessageType type = MessageTypeParser.parseMessageType(schema);
    SimpleGroupFactory factory = new SimpleGroupFactory(type);
    Group first = factory.newGroup();
    first.addGroup("meta").add("a", 1);
    first.add("text", "one");
    first.add("n", 7L);
    Group second = factory.newGroup();
    second.add("n", 8L);
    String path = writeWithGroupApi("projected.parquet", schema, List.of(first, second));

    Table table = ParquetTables.read(path, List.of("n", "text"), CONF);
    assertEquals(List.of(new Column("n", Type.LONG), new Column("text", Type.STRING)), table.columns());
    assertEquals(List.of(Arrays.asList(7L, "one"), Arrays.asList(8L, null)), table.rows());

    InvalidInputException missing = assertThrows(InvalidInputException.class,
        () -> ParquetTables.read(path, List.of("txt"), CONF));
    assertTrue(missing.getMessage().contains("projected.parquet: no column 'txt'; its columns: meta, text, n"),
        missing.getMessage());
  }

  @Test
  void failedWriteLeavesNoFileAndKeepsTheOldOne() throws IOException {
    Table bad = Table.builder().column("id", Type.INT).row(1).row(2).row("three").build();
    String fresh = dir.resolve("fresh.parquet").toString();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ParquetTables.write(bad, fresh, CONF));
    assertTrue(e.getMessage().contains("column id, row 2"), e.getMessage());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(), files.toList());
    }

    String existing = dir.resolve("existing.parquet").toString();
    Table good = Table.builder().column("id", Type.INT).row(9).build();
    ParquetTables.write(good, existing, CONF);
    assertThrows(IllegalArgumentException.class, () -> ParquetTables.write(bad, existing, CONF));
    assertSameTable(good, ParquetTables.read(existing, CONF));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of("existing.parquet"), files.map(p -> p.getFileName().toString())
          .filter(n -> !n.endsWith(".crc")).toList());
    }
  }

  @Test
  void readsEmptyTableWithItsColumns() {
    String path = dir.resolve("empty.parquet").toString();
    Table empty = Table.builder().column("tensor", Type.STRING).column("mask", Type.FLOAT_LIST).build();
    ParquetTables.write(empty, path, CONF);
    Table back = ParquetTables.read(path, CONF);
    assertEquals(empty.columns(), back.columns());
    assertEquals(0, back.rows().size());
  }
}
