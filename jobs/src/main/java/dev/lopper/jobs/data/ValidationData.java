package dev.lopper.jobs.data;

import static org.apache.spark.sql.functions.col;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.ParquetTables;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.execution.datasources.parquet.ParquetToSparkSchemaConverter;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * The validation set as Spark reads it: a Parquet file or directory on any Hadoop file system, a
 * features column (a list of numbers per row, reshaped to the model's input) and an optional
 * integer label column.
 *
 * <p>{@link #load} reads the file once: it decodes each partition into {@link PartitionRows}, kept
 * in memory for the run, and counts on the way everything a task would trip over ({@link
 * DataChecks}); before any evaluation runs, the columns must exist and have usable types, every row
 * must have the right number of features, labels must lie in [0, classes) and the data must not be
 * empty — otherwise one message names the file and column.
 */
public final class ValidationData implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * What to read.
   *
   * @param path the Parquet file or directory
   * @param featuresColumn the features column
   * @param labelColumn the label column, or null for data without labels
   * @param rowShape the model input's shape without the batch dimension
   * @param partitions how many data partitions to use; 0 keeps the files' own, empty splits merged;
   *     {@link #FILE_ORDER} the files' own splits exactly as Spark plans them, in order
   * @param sequences for a model of token inputs, how its columns are read; null for features
   */
  public record Spec(String path, String featuresColumn, String labelColumn, long[] rowShape,
      int partitions, SequenceSpec sequences) implements Serializable {
    /**
     * {@link #partitions()} for rows whose global index must follow the file: Spark's splits in their
     * order (a file's splits by offset), never coalesced, since a coalesce may group the splits of a
     * file on several hosts by location rather than by offset.
     */
    public static final int FILE_ORDER = -1;

    public Spec {
      rowShape = rowShape.clone();
    }

    /** Float feature rows. */
    public Spec(String path, String featuresColumn, String labelColumn, long[] rowShape, int partitions) {
      this(path, featuresColumn, labelColumn, rowShape, partitions, null);
    }

    /** Token sequences read as {@code sequences} says. */
    public static Spec sequences(String path, SequenceSpec sequences, int partitions) {
      return new Spec(path, null, null, new long[0], partitions, sequences);
    }

    @Override
    public long[] rowShape() {
      return rowShape.clone();
    }

    /** Floats per row. */
    public int rowLength() {
      long n = 1;
      for (long d : rowShape) {
        n *= d;
      }
      return Math.toIntExact(n);
    }
  }

  private final Spec spec;
  private final int[] rowsPerPartition;
  private final int longest;
  private final transient JavaRDD<PartitionData> partitions;

  private ValidationData(Spec spec, int[] rowsPerPartition, int longest, JavaRDD<PartitionData> partitions) {
    this.longest = longest;
    this.spec = spec;
    this.rowsPerPartition = rowsPerPartition.clone();
    this.partitions = partitions;
  }

  /** What was read. */
  public Spec spec() {
    return spec;
  }

  /** Number of rows. */
  public long rows() {
    return Arrays.stream(rowsPerPartition).asLongStream().sum();
  }

  /** Number of rows of each data partition, by partition index. */
  public int[] rowsPerPartition() {
    return rowsPerPartition.clone();
  }

  /** The most positions of any row of token sequences (0 for feature rows). */
  public int longest() {
    return longest;
  }

  /** The decoded partitions, persisted in memory (and on disk when memory is short). */
  public JavaRDD<PartitionData> partitions() {
    return partitions;
  }

  /** Number of data partitions. */
  public int partitionCount() {
    return partitions.getNumPartitions();
  }

  /** Releases the decoded partitions. */
  public void release() {
    partitions.unpersist(false);
  }

  /**
   * Reads and checks the data; {@code classes} is the model's number of outputs, which labels
   * must stay below. Every problem is an {@link InvalidInputException}.
   */
  public static ValidationData load(SparkSession spark, Spec spec, int classes) {
    if (!HadoopFiles.exists(spec.path(), spark.sparkContext().hadoopConfiguration())) {
      throw new InvalidInputException(spec.path() + ": no such file or directory (validation data)");
    }
    Dataset<Row> raw;
    ParquetTables.Footer footer;
    try {
      footer = footer(spark, spec.path());
      StructType schema = footer == null ? null : sparkSchema(footer);
      raw = schema == null ? spark.read().parquet(spec.path()) : spark.read().schema(schema).parquet(spec.path());
    } catch (Exception e) {
      throw new InvalidInputException(spec.path() + ": cannot read as Parquet: " + firstLine(e), e);
    }
    if (spec.sequences() != null) {
      return SequenceDecoding.load(spec, raw, footer);
    }
    checkSchema(spec, raw.schema());
    boolean elementsNullable = ((ArrayType) raw.schema().apply(spec.featuresColumn()).dataType()).containsNull();
    boolean labelled = spec.labelColumn() != null;
    Column features = col(quoted(spec.featuresColumn())).cast(DataTypes.createArrayType(DataTypes.FloatType));
    Dataset<Row> selected = labelled
        ? raw.select(features.as("features"), col(quoted(spec.labelColumn())).cast(DataTypes.LongType).as("label"))
        : raw.select(features.as("features"));

    Dataset<Row> data = spec.partitions() > 0 ? selected.repartition(spec.partitions())
        : spec.partitions() == Spec.FILE_ORDER ? selected : withoutEmptySplits(footer, selected);
    int rowLength = spec.rowLength();
    // Spark's internal rows, read in place: each row's array<float> is copied into the partition's
    // float[] value by value (primitive reads), its null bitmap tested only when the schema allows null values. Spark's
    // public decoders box: Row's Seq and, for lists whose elements may be null (Spark's, pyarrow's
    // and Lopper's own writers all declare them so), the bean encoder too, a Float per value; the
    // null check as a column expression (exists) ran interpreted, another Float per value. Measured
    // in docs/benchmarks.md ("Decoding the validation data").
    JavaRDD<PartitionData> decoded = data.queryExecution().toRdd().toJavaRDD()
        .mapPartitionsWithIndex((index, it) ->
            List.<PartitionData>of(decode(index, it, rowLength, labelled, elementsNullable)).iterator(), true);
    decoded.setName("validation data " + spec.path());
    decoded.persist(StorageLevel.MEMORY_AND_DISK());
    // One pass over the file: each partition is decoded (and cached) once, counting what the checks
    // need on the way; the sweep's concurrent units of a partition then all start from the cache.
    List<DataChecks> checks = decoded.map(p -> ((PartitionRows) p).checks()).collect();
    try {
      checks.stream().reduce(DataChecks.NONE, DataChecks::merge).verify(spec, classes);
    } catch (RuntimeException e) {
      decoded.unpersist(false);
      throw e;
    }
    int[] rowsPerPartition = checks.stream().mapToInt(c -> Math.toIntExact(c.rows())).toArray();
    return new ValidationData(spec, rowsPerPartition, 0, decoded);
  }

  /** Data decoded elsewhere in this package (token sequences). */
  static ValidationData of(Spec spec, int[] rowsPerPartition, int longest, JavaRDD<PartitionData> decoded) {
    return new ValidationData(spec, rowsPerPartition, longest, decoded);
  }

  /**
   * {@code selected} with no more partitions than the file has row groups. Spark cuts a file into
   * byte ranges (about its size over the cores) and reads each row group in the range holding its
   * midpoint, so a file of one 64 MB row group becomes one full partition and one empty one: a
   * decode task that reads nothing but still starts Spark SQL's and Parquet's code on its executor,
   * a fresh executor's CPU spent for nothing (docs/benchmarks.md, "Results (single runs, before
   * rounds)"). Merging the ranges (a narrow coalesce, no shuffle) leaves one task per row group;
   * the sweep's slices spread the rows over the cores. The coalesce is asked for unconditionally:
   * it keeps Spark's partitions when they are no more than the row groups, and asking Spark how
   * many it planned costs a planning of its own (a Row deserializer generated and compiled, a
   * noticeable part of a cold driver's data stage: docs/benchmarks.md, "Results (2026-11-22,
   * fourth session)"). Directories of several part files (and files whose footer was not read) are
   * left as Spark plans them.
   */
  static Dataset<Row> withoutEmptySplits(ParquetTables.Footer footer, Dataset<Row> selected) {
    int rowGroups = footer == null ? -1 : footer.rowGroups();
    if (rowGroups <= 0) {
      return selected;
    }
    return selected.coalesce(rowGroups);
  }

  /**
   * The footer of the file (or the first part file), read here on the driver, or null to let Spark
   * infer the schema. Spark's own inference runs a job on the executors to read footers (about half
   * a second, and the first task of a cold executor); for one file, or a directory of part files of
   * one schema (Lopper reads the first, as Spark does without schema merging), the driver can read
   * it directly. Anything unusual (nested partition directories, a footer that does not read) falls
   * back to Spark's inference and its messages.
   */
  private static ParquetTables.Footer footer(SparkSession spark, String path) {
    try {
      return ParquetTables.footer(path, spark.sparkContext().hadoopConfiguration());
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** The footer's schema as Spark reads it, or null (Spark infers it) when its converter fails. */
  private static StructType sparkSchema(ParquetTables.Footer footer) {
    try {
      return new ParquetToSparkSchemaConverter(SQLConf.get()).convert(footer.schema());
    } catch (RuntimeException | LinkageError e) {
      return null;
    }
  }

  /**
   * Decodes one partition's rows (features, label) and counts what the checks need. Rows that
   * cannot be used (null features, null values, a wrong length) are counted and not kept: the run
   * stops on the merged checks. Spark may reuse one row object for the whole iteration; each row is
   * copied out before the next.
   */
  private static PartitionRows decode(int partition, Iterator<InternalRow> it, int rowLength,
      boolean labelled, boolean elementsNullable) {
    float[] features = new float[1024 * rowLength];
    int[] labels = new int[1024];
    int n = 0;
    long seen = 0;
    long nullFeatures = 0;
    long nullValues = 0;
    long nullLabels = 0;
    int minLength = Integer.MAX_VALUE;
    int maxLength = -1;
    long minLabel = Long.MAX_VALUE;
    long maxLabel = Long.MIN_VALUE;
    while (it.hasNext()) {
      InternalRow row = it.next();
      seen++;
      long label = 0;
      if (labelled) {
        if (row.isNullAt(1)) {
          nullLabels++;
        } else {
          label = row.getLong(1);
          minLabel = Math.min(minLabel, label);
          maxLabel = Math.max(maxLabel, label);
        }
      }
      if (row.isNullAt(0)) {
        nullFeatures++;
        continue;
      }
      ArrayData values = row.getArray(0);
      int length = values.numElements();
      if (elementsNullable && hasNull(values, length)) {
        nullValues++;
        continue;
      }
      minLength = Math.min(minLength, length);
      maxLength = Math.max(maxLength, length);
      if (length != rowLength) {
        continue;
      }
      if (n == labels.length) {
        features = Arrays.copyOf(features, features.length * 2);
        labels = Arrays.copyOf(labels, labels.length * 2);
      }
      // Straight into the partition's array: no value boxed, no array per row.
      int offset = n * rowLength;
      for (int i = 0; i < rowLength; i++) {
        features[offset + i] = values.getFloat(i);
      }
      labels[n] = (int) label;
      n++;
    }
    DataChecks checks = new DataChecks(seen, nullFeatures, nullValues, minLength, maxLength, nullLabels,
        minLabel, maxLabel);
    return new PartitionRows(partition, n, rowLength, Arrays.copyOf(features, n * rowLength),
        labelled ? Arrays.copyOf(labels, n) : null, checks);
  }

  private static boolean hasNull(ArrayData values, int length) {
    for (int i = 0; i < length; i++) {
      if (values.isNullAt(i)) {
        return true;
      }
    }
    return false;
  }

  private static void checkSchema(Spec spec, StructType schema) {
    List<String> names = new ArrayList<>(Arrays.asList(schema.fieldNames()));
    StructField features = field(spec, schema, spec.featuresColumn(), names, "features");
    DataType ft = features.dataType();
    if (!(ft instanceof ArrayType at) || !(at.elementType() instanceof NumericType)) {
      throw new InvalidInputException(spec.path() + ": column " + spec.featuresColumn()
          + " has type " + ft.simpleString() + "; expected a list of numbers (array<float>)");
    }
    if (spec.labelColumn() != null) {
      StructField label = field(spec, schema, spec.labelColumn(), names, "label");
      DataType lt = label.dataType();
      if (!(lt.equals(DataTypes.IntegerType) || lt.equals(DataTypes.LongType)
          || lt.equals(DataTypes.ShortType) || lt.equals(DataTypes.ByteType))) {
        throw new InvalidInputException(spec.path() + ": column " + spec.labelColumn() + " has type "
            + lt.simpleString() + "; expected an integer class label");
      }
    }
  }

  private static StructField field(Spec spec, StructType schema, String name, List<String> names, String role) {
    for (StructField f : schema.fields()) {
      if (f.name().equals(name)) {
        return f;
      }
    }
    throw new InvalidInputException(spec.path() + ": no " + role + " column named " + name
        + "; the columns are " + names);
  }

  static String quoted(String column) {
    return "`" + column.replace("`", "``") + "`";
  }

  private static String firstLine(Exception e) {
    String m = String.valueOf(e.getMessage());
    return m.lines().findFirst().orElse(m);
  }
}
