package dev.lopper.io;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table.Column;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.conf.ParquetConfiguration;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.CodecFactory;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.metadata.ParquetMetadata;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.PositionOutputStream;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.LogicalTypeAnnotation.IntLogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Type;
import org.apache.parquet.schema.Type.Repetition;
import org.apache.parquet.schema.Types;

/**
 * {@link Table}s as Parquet files, through the Hadoop FileSystem API.
 *
 * <p>Writing makes one file, complete or absent ({@link HadoopFiles#writeAtomically}), SNAPPY
 * compressed when snappy-java works on this machine (it ships its own native library, no Hadoop
 * native code is needed) and uncompressed otherwise. Every column is {@code optional}; the types
 * are:
 *
 * <pre>
 *   STRING      optional binary name (STRING)
 *   INT         optional int32 name
 *   LONG        optional int64 name
 *   DOUBLE      optional double name
 *   BOOLEAN     optional boolean name
 *   FLOAT_LIST  optional group name (LIST) { repeated group list { optional float element; } }
 *   LONG_LIST   optional group name (LIST) { repeated group list { optional int64 element; } }
 * </pre>
 *
 * which is what Spark writes for {@code string, int, bigint, double, boolean, array<float>,
 * array<bigint>}.
 *
 * <p>Reading takes one file, or a directory of part files as Spark writes it (files whose names
 * start with {@code _} or {@code .} are skipped, the others are read in name order and must share
 * one schema). It accepts the shapes other writers produce: lists in the standard 3-level form
 * whatever the names of the repeated group and element ({@code list/element} from Spark and
 * parquet-mr, {@code list/item} from pyarrow, {@code bag/array} from Spark's legacy format), the
 * 2-level legacy form ({@code repeated float array} inside a LIST group) and bare repeated
 * fields. Top-level columns map to table types as follows, anything else (structs, maps, nested
 * lists, decimals, dates, timestamps, unannotated binary) is refused:
 *
 * <ul>
 *   <li>BINARY annotated STRING, ENUM or JSON: {@code STRING}
 *   <li>INT32 (plain, or a signed or unsigned int of at most 16 bits): {@code INT}; unsigned
 *       32-bit: {@code LONG}
 *   <li>INT64 (plain or signed): {@code LONG}
 *   <li>FLOAT and DOUBLE: {@code DOUBLE} (float widens exactly)
 *   <li>BOOLEAN: {@code BOOLEAN}
 *   <li>lists of FLOAT or DOUBLE: {@code FLOAT_LIST} (doubles are rounded to float, as a model's
 *       float32 input would round them); lists of INT32 or INT64: {@code LONG_LIST}
 * </ul>
 *
 * A null list element cannot be held by a {@code float[]} and is refused naming the row.
 *
 * <pre>{@code
 * Table table = ParquetTables.read("hdfs:///data/val.parquet", conf);
 * ParquetTables.write(table, "file:///tmp/copy.parquet", conf);
 * }</pre>
 */
public final class ParquetTables {

  private static final String LIST_GROUP = "list";
  private static final String ELEMENT = "element";

  private static volatile CompressionCodecName codec;

  private ParquetTables() {}

  /**
   * Writes {@code table} to one Parquet file at {@code path}, replacing any file there. The file
   * appears complete or not at all. A value whose Java type does not match its column's type is an
   * {@link IllegalArgumentException} naming the column and row.
   */
  public static void write(Table table, String path, Configuration conf) {
    MessageType schema = schemaOf(table.columns());
    CompressionCodecName compression = compression(conf);
    HadoopFiles.writeAtomically(path, conf, out -> {
      try (ParquetWriter<List<Object>> writer = new TableWriterBuilder(new StreamOutputFile(out, path), schema)
          .withConf(conf)
          .withCompressionCodec(compression)
          .build()) {
        for (List<Object> row : table.rows()) {
          writer.write(row);
        }
      }
    });
  }

  /** The Parquet schema {@link #write} uses for these columns. */
  public static MessageType schemaOf(List<Column> columns) {
    Set<String> names = new HashSet<>();
    Types.MessageTypeBuilder message = Types.buildMessage();
    for (Column column : columns) {
      if (column.name().isEmpty() || !names.add(column.name())) {
        throw new IllegalArgumentException("column names must be non-empty and unique, found '"
            + column.name() + "' in " + columns);
      }
      String name = column.name();
      switch (column.type()) {
        case STRING -> message.optional(PrimitiveTypeName.BINARY)
            .as(LogicalTypeAnnotation.stringType()).named(name);
        case INT -> message.optional(PrimitiveTypeName.INT32).named(name);
        case LONG -> message.optional(PrimitiveTypeName.INT64).named(name);
        case DOUBLE -> message.optional(PrimitiveTypeName.DOUBLE).named(name);
        case BOOLEAN -> message.optional(PrimitiveTypeName.BOOLEAN).named(name);
        case FLOAT_LIST -> message.optionalList()
            .optionalElement(PrimitiveTypeName.FLOAT).named(name);
        case LONG_LIST -> message.optionalList()
            .optionalElement(PrimitiveTypeName.INT64).named(name);
        default -> throw new IllegalStateException("unhandled column type " + column.type());
      }
    }
    return message.named("table");
  }

  /**
   * Reads the Parquet file, or the directory of part files, at {@code path}. A missing path, a file
   * that is not Parquet, a column of a type listed as refused above, or part files of different
   * schemas are bad input naming the file and column.
   */
  public static Table read(String path, Configuration conf) {
    return read(path, null, conf);
  }

  /**
   * As {@link #read(String, Configuration)}, but only the columns named {@code names}, in that
   * order (null: all). Only their data is read, so other columns may be of any type. A name that a
   * file lacks is bad input naming the file and the columns it has.
   */
  public static Table read(String path, List<String> names, Configuration conf) {
    List<Path> files = partFiles(path, conf);
    List<Column> columns = null;
    String firstFile = null;
    List<List<Object>> rows = new ArrayList<>();
    for (Path file : files) {
      Table part = readFile(file, names, conf);
      if (columns == null) {
        columns = part.columns();
        firstFile = file.toString();
      } else if (!columns.equals(part.columns())) {
        throw new InvalidInputException(path + ": part files have different schemas: " + firstFile
            + " has " + columns + ", " + file + " has " + part.columns());
      }
      rows.addAll(part.rows());
    }
    return new Table(columns, rows);
  }

  /**
   * What the footer of a Parquet file says.
   *
   * @param schema the file's schema
   * @param rowGroups the file's number of row groups; -1 when it is one of several part files
   */
  public record Footer(MessageType schema, int rowGroups) {}

  /**
   * The footer of the Parquet file at {@code path}, or of the first part file (by name) of the
   * directory at {@code path}: its schema, and its row groups when it is the only file (the
   * footers of the other part files are not read).
   */
  public static Footer footer(String path, Configuration conf) {
    List<Path> files = partFiles(path, conf);
    Path file = files.get(0);
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf))) {
      ParquetMetadata footer = reader.getFooter();
      return new Footer(footer.getFileMetaData().getSchema(), files.size() == 1 ? footer.getBlocks().size() : -1);
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(file + ": no such file");
    } catch (IOException | RuntimeException e) {
      throw new InvalidInputException(file + ": not a readable Parquet file: " + e.getMessage(), e);
    }
  }

  /** The file at {@code path}, or the part files of the directory there, sorted by name. */
  private static List<Path> partFiles(String path, Configuration conf) {
    FileSystem fs = HadoopFiles.fileSystem(path, conf);
    List<Path> files = new ArrayList<>();
    try {
      FileStatus status = fs.getFileStatus(new Path(path));
      if (status.isDirectory()) {
        FileStatus[] children = fs.listStatus(status.getPath());
        Arrays.sort(children, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
        for (FileStatus child : children) {
          String name = child.getPath().getName();
          if (child.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
            files.add(child.getPath());
          }
        }
        if (files.isEmpty()) {
          throw new InvalidInputException(path + ": a directory without Parquet part files");
        }
      } else {
        files.add(status.getPath());
      }
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(path + ": no such file or directory");
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot list: " + e.getMessage(), e);
    }
    return files;
  }

  private static Table readFile(Path file, List<String> names, Configuration conf) {
    String where = file.toString();
    try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(file, conf))) {
      MessageType fileSchema = reader.getFooter().getFileMetaData().getSchema();
      MessageType schema = names == null ? fileSchema : projection(where, fileSchema, names);
      reader.setRequestedSchema(schema);
      List<FieldReader> fields = new ArrayList<>();
      List<Column> columns = new ArrayList<>();
      for (Type field : schema.getFields()) {
        FieldReader fieldReader = fieldReader(where, field);
        fields.add(fieldReader);
        columns.add(new Column(field.getName(), fieldReader.type()));
      }
      List<List<Object>> rows = new ArrayList<>();
      ColumnIOFactory ioFactory = new ColumnIOFactory();
      PageReadStore pages;
      while ((pages = reader.readNextRowGroup()) != null) {
        RecordReader<Group> records = ioFactory.getColumnIO(schema, fileSchema)
            .getRecordReader(pages, new GroupRecordConverter(schema));
        for (long r = 0, n = pages.getRowCount(); r < n; r++) {
          Group record = records.read();
          List<Object> row = new ArrayList<>(fields.size());
          for (int c = 0; c < fields.size(); c++) {
            row.add(fields.get(c).read(record, c, where, rows.size()));
          }
          rows.add(row);
        }
      }
      return new Table(columns, rows);
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(where + ": no such file");
    } catch (IOException | RuntimeException e) {
      if (e instanceof InvalidInputException invalid) {
        throw invalid;
      }
      throw new InvalidInputException(where + ": cannot read as Parquet: " + e.getMessage(), e);
    }
  }

  /** The columns of {@code schema} named {@code names}, in that order. */
  private static MessageType projection(String where, MessageType schema, List<String> names) {
    List<Type> fields = new ArrayList<>();
    for (String name : names) {
      if (!schema.containsField(name)) {
        throw new InvalidInputException(where + ": no column '" + name + "'; its columns: "
            + String.join(", ", schema.getFields().stream().map(Type::getName).toList()));
      }
      fields.add(schema.getType(name));
    }
    return new MessageType(schema.getName(), fields);
  }

  // ------------------------------------------------------------------------------------ reading

  /** How a top-level field's values are found in a record, and the table type they become. */
  private record FieldReader(Table.Type type, Shape shape, PrimitiveType primitive) {
    Object read(Group record, int field, String file, int row) {
      return switch (shape) {
        case SCALAR -> record.getFieldRepetitionCount(field) == 0 ? null
            : scalar(record, field, 0);
        case REPEATED -> list(record, field, record.getFieldRepetitionCount(field), null);
        case TWO_LEVEL -> {
          if (record.getFieldRepetitionCount(field) == 0) {
            yield null;
          }
          Group list = record.getGroup(field, 0);
          yield list(list, 0, list.getFieldRepetitionCount(0), null);
        }
        case THREE_LEVEL -> {
          if (record.getFieldRepetitionCount(field) == 0) {
            yield null;
          }
          Group list = record.getGroup(field, 0);
          yield list(list, 0, list.getFieldRepetitionCount(0),
              () -> file + ": column " + record.getType().getType(field).getName() + ", row " + row);
        }
      };
    }

    private Object scalar(Group g, int field, int index) {
      return switch (primitive.getPrimitiveTypeName()) {
        case INT32 -> type == Table.Type.LONG
            ? (Object) Integer.toUnsignedLong(g.getInteger(field, index))
            : (Object) g.getInteger(field, index);
        case INT64 -> g.getLong(field, index);
        case FLOAT -> (double) g.getFloat(field, index);
        case DOUBLE -> g.getDouble(field, index);
        case BOOLEAN -> g.getBoolean(field, index);
        case BINARY -> g.getString(field, index);
        default -> throw new IllegalStateException("unhandled " + primitive);
      };
    }

    /**
     * The {@code count} values of repeated field {@code field} of {@code g}; with {@code
     * where != null} each repetition is a group holding the (optional) element as its field 0.
     */
    private Object list(Group g, int field, int count, java.util.function.Supplier<String> where) {
      float[] floats = type == Table.Type.FLOAT_LIST ? new float[count] : null;
      long[] longs = type == Table.Type.LONG_LIST ? new long[count] : null;
      for (int i = 0; i < count; i++) {
        Group holder = g;
        int f = field;
        int index = i;
        if (where != null) {
          holder = g.getGroup(field, i);
          f = 0;
          index = 0;
          if (holder.getFieldRepetitionCount(0) == 0) {
            throw new InvalidInputException(where.get() + ": list element " + i
                + " is null; lists of " + type + " cannot hold nulls");
          }
        }
        switch (primitive.getPrimitiveTypeName()) {
          case FLOAT -> floats[i] = holder.getFloat(f, index);
          case DOUBLE -> floats[i] = (float) holder.getDouble(f, index);
          case INT32 -> longs[i] = holder.getInteger(f, index);
          case INT64 -> longs[i] = holder.getLong(f, index);
          default -> throw new IllegalStateException("unhandled " + primitive);
        }
      }
      return floats != null ? floats : longs;
    }
  }

  private enum Shape { SCALAR, REPEATED, TWO_LEVEL, THREE_LEVEL }

  private static FieldReader fieldReader(String file, Type field) {
    String where = file + ": column " + field.getName();
    if (field.isPrimitive()) {
      PrimitiveType p = field.asPrimitiveType();
      if (field.isRepetition(Repetition.REPEATED)) {
        return new FieldReader(listType(where, p), Shape.REPEATED, p);
      }
      return new FieldReader(scalarType(where, p), Shape.SCALAR, p);
    }
    GroupType group = field.asGroupType();
    if (!(group.getLogicalTypeAnnotation() instanceof LogicalTypeAnnotation.ListLogicalTypeAnnotation)
        || field.isRepetition(Repetition.REPEATED) || group.getFieldCount() != 1
        || !group.getType(0).isRepetition(Repetition.REPEATED)) {
      throw new InvalidInputException(where + ": unsupported type " + oneLine(field)
          + "; expected a primitive or a LIST of float, double, int32 or int64");
    }
    Type repeated = group.getType(0);
    if (repeated.isPrimitive()) {
      return new FieldReader(listType(where, repeated.asPrimitiveType()), Shape.TWO_LEVEL,
          repeated.asPrimitiveType());
    }
    GroupType inner = repeated.asGroupType();
    if (inner.getFieldCount() != 1 || !inner.getType(0).isPrimitive()
        || inner.getType(0).isRepetition(Repetition.REPEATED)) {
      throw new InvalidInputException(where + ": unsupported type " + oneLine(field)
          + "; expected a list of float, double, int32 or int64 (not of structs or lists)");
    }
    PrimitiveType element = inner.getType(0).asPrimitiveType();
    return new FieldReader(listType(where, element), Shape.THREE_LEVEL, element);
  }

  private static Table.Type scalarType(String where, PrimitiveType p) {
    LogicalTypeAnnotation logical = p.getLogicalTypeAnnotation();
    switch (p.getPrimitiveTypeName()) {
      case BINARY:
        if (logical instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
            || logical instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
            || logical instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation) {
          return Table.Type.STRING;
        }
        break;
      case INT32:
        if (logical == null) {
          return Table.Type.INT;
        }
        if (logical instanceof IntLogicalTypeAnnotation i) {
          if (i.isSigned() || i.getBitWidth() < 32) {
            return Table.Type.INT;
          }
          return Table.Type.LONG;
        }
        break;
      case INT64:
        if (logical == null
            || logical instanceof IntLogicalTypeAnnotation i && i.isSigned()) {
          return Table.Type.LONG;
        }
        break;
      case FLOAT:
      case DOUBLE:
        if (logical == null) {
          return Table.Type.DOUBLE;
        }
        break;
      case BOOLEAN:
        return Table.Type.BOOLEAN;
      default:
        break;
    }
    throw new InvalidInputException(where + ": unsupported type " + oneLine(p)
        + "; expected string, int32, int64, float, double or boolean");
  }

  private static Table.Type listType(String where, PrimitiveType element) {
    LogicalTypeAnnotation logical = element.getLogicalTypeAnnotation();
    boolean plainOrSigned = logical == null
        || logical instanceof IntLogicalTypeAnnotation i && i.isSigned();
    switch (element.getPrimitiveTypeName()) {
      case FLOAT:
      case DOUBLE:
        if (logical == null) {
          return Table.Type.FLOAT_LIST;
        }
        break;
      case INT32:
      case INT64:
        if (plainOrSigned) {
          return Table.Type.LONG_LIST;
        }
        break;
      default:
        break;
    }
    throw new InvalidInputException(where + ": unsupported list element " + oneLine(element)
        + "; expected float, double, int32 or int64");
  }

  private static String oneLine(Type type) {
    return type.toString().replaceAll("\\s+", " ").trim();
  }

  // ------------------------------------------------------------------------------------ writing

  /** SNAPPY when snappy-java's bundled native library loads here, otherwise UNCOMPRESSED. */
  static CompressionCodecName compression(Configuration conf) {
    CompressionCodecName chosen = codec;
    if (chosen == null) {
      chosen = CompressionCodecName.UNCOMPRESSED;
      CodecFactory factory = new CodecFactory(conf, 1 << 16);
      try {
        factory.getCompressor(CompressionCodecName.SNAPPY)
            .compress(BytesInput.from(new byte[] {1, 2, 3, 4}));
        chosen = CompressionCodecName.SNAPPY;
      } catch (Exception | LinkageError e) {
        // snappy-java could not load its native library on this platform: write uncompressed.
      } catch (Error e) {
        // org.xerial.snappy.SnappyError (an Error) means the same; anything else propagates.
        if (!e.getClass().getName().startsWith("org.xerial.snappy")) {
          throw e;
        }
      } finally {
        factory.release();
      }
      codec = chosen;
    }
    return chosen;
  }

  private static final class TableWriterBuilder
      extends ParquetWriter.Builder<List<Object>, TableWriterBuilder> {
    private final MessageType schema;

    TableWriterBuilder(OutputFile file, MessageType schema) {
      super(file);
      this.schema = schema;
    }

    @Override
    protected TableWriterBuilder self() {
      return this;
    }

    @Override
    @SuppressWarnings("deprecation") // still abstract in parquet-mr 1.15
    protected WriteSupport<List<Object>> getWriteSupport(Configuration conf) {
      return new TableWriteSupport(schema);
    }

    @Override
    protected WriteSupport<List<Object>> getWriteSupport(ParquetConfiguration conf) {
      return new TableWriteSupport(schema);
    }
  }

  /** Writes one table row as one record, in the layout of {@link #schemaOf}. */
  private static final class TableWriteSupport extends WriteSupport<List<Object>> {
    private final MessageType schema;
    private final List<Type> fields;
    private RecordConsumer consumer;
    private long row;

    TableWriteSupport(MessageType schema) {
      this.schema = schema;
      this.fields = schema.getFields();
    }

    @Override
    @SuppressWarnings("deprecation") // still abstract in parquet-mr 1.15
    public WriteContext init(Configuration configuration) {
      return context();
    }

    @Override
    public WriteContext init(ParquetConfiguration configuration) {
      return context();
    }

    private WriteContext context() {
      return new WriteContext(schema, new HashMap<>(Map.of("writer.model.name", "lopper")));
    }

    @Override
    public void prepareForWrite(RecordConsumer recordConsumer) {
      this.consumer = recordConsumer;
    }

    @Override
    public void write(List<Object> values) {
      consumer.startMessage();
      for (int i = 0; i < fields.size(); i++) {
        Object value = values.get(i);
        if (value == null) {
          continue;
        }
        String name = fields.get(i).getName();
        consumer.startField(name, i);
        try {
          writeValue(fields.get(i), value);
        } catch (ClassCastException e) {
          throw new IllegalArgumentException("column " + name + ", row " + row + ": a "
              + value.getClass().getSimpleName() + " cannot be written as " + oneLine(fields.get(i)), e);
        }
        consumer.endField(name, i);
      }
      consumer.endMessage();
      row++;
    }

    private void writeValue(Type field, Object value) {
      if (!field.isPrimitive()) {
        writeList(field.asGroupType(), value);
        return;
      }
      switch (field.asPrimitiveType().getPrimitiveTypeName()) {
        case BINARY -> consumer.addBinary(Binary.fromString((String) value));
        case INT32 -> consumer.addInteger((Integer) value);
        case INT64 -> consumer.addLong((Long) value);
        case DOUBLE -> consumer.addDouble((Double) value);
        case BOOLEAN -> consumer.addBoolean((Boolean) value);
        default -> throw new IllegalStateException("unhandled " + field);
      }
    }

    private void writeList(GroupType field, Object value) {
      boolean floats =
          field.getType(0).asGroupType().getType(0).asPrimitiveType().getPrimitiveTypeName()
              == PrimitiveTypeName.FLOAT;
      int length = floats ? ((float[]) value).length : ((long[]) value).length;
      consumer.startGroup();
      if (length > 0) {
        consumer.startField(LIST_GROUP, 0);
        for (int i = 0; i < length; i++) {
          consumer.startGroup();
          consumer.startField(ELEMENT, 0);
          if (floats) {
            consumer.addFloat(((float[]) value)[i]);
          } else {
            consumer.addLong(((long[]) value)[i]);
          }
          consumer.endField(ELEMENT, 0);
          consumer.endGroup();
        }
        consumer.endField(LIST_GROUP, 0);
      }
      consumer.endGroup();
    }
  }

  /** An {@link OutputFile} over a stream that {@link HadoopFiles#writeAtomically} owns and closes. */
  private static final class StreamOutputFile implements OutputFile {
    private final OutputStream out;
    private final String path;

    StreamOutputFile(OutputStream out, String path) {
      this.out = out;
      this.path = path;
    }

    @Override
    public PositionOutputStream create(long blockSizeHint) {
      return new PositionOutputStream() {
        private long position;

        @Override
        public long getPos() {
          return position;
        }

        @Override
        public void write(int b) throws IOException {
          out.write(b);
          position++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
          position += len;
        }

        @Override
        public void flush() throws IOException {
          out.flush();
        }

        @Override
        public void close() throws IOException {
          out.flush(); // the stream itself is closed by writeAtomically, before the rename
        }
      };
    }

    @Override
    public PositionOutputStream createOrOverwrite(long blockSizeHint) {
      return create(blockSizeHint);
    }

    @Override
    public boolean supportsBlockSize() {
      return false;
    }

    @Override
    public long defaultBlockSize() {
      return 0;
    }

    @Override
    public String getPath() {
      return path;
    }
  }
}
