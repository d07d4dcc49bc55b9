package dev.lopper.jobs.data;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.exists;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
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
 * <p>{@link #load} checks everything a task would trip over before any evaluation runs — the
 * columns exist and have usable types, every row has the right number of features, labels lie in
 * [0, classes), the data is not empty — with one message naming the file and column. It then
 * decodes each partition once into {@link PartitionRows}, kept in memory for the run.
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
   * @param partitions how many data partitions to use; 0 keeps the files' own
   */
  public record Spec(String path, String featuresColumn, String labelColumn, long[] rowShape,
      int partitions) implements Serializable {
    public Spec {
      rowShape = rowShape.clone();
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
  private final long rows;
  private final transient JavaRDD<PartitionRows> partitions;

  private ValidationData(Spec spec, long rows, JavaRDD<PartitionRows> partitions) {
    this.spec = spec;
    this.rows = rows;
    this.partitions = partitions;
  }

  /** What was read. */
  public Spec spec() {
    return spec;
  }

  /** Number of rows. */
  public long rows() {
    return rows;
  }

  /** The decoded partitions, persisted in memory (and on disk when memory is short). */
  public JavaRDD<PartitionRows> partitions() {
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
    try {
      raw = spark.read().parquet(spec.path());
    } catch (Exception e) {
      throw new InvalidInputException(spec.path() + ": cannot read as Parquet: " + firstLine(e), e);
    }
    checkSchema(spec, raw.schema());
    boolean elementsNullable = ((ArrayType) raw.schema().apply(spec.featuresColumn()).dataType()).containsNull();
    boolean labelled = spec.labelColumn() != null;
    Dataset<Row> selected = raw.select(
        col(quoted(spec.featuresColumn())).cast(DataTypes.createArrayType(DataTypes.FloatType)).as("features"),
        labelled ? col(quoted(spec.labelColumn())).cast(DataTypes.LongType).as("label") : lit(0L).as("label"));

    Row stats = selected.agg(
        count(lit(1)),
        sum(when(col("features").isNull(), 1).otherwise(0)),
        min(size(col("features"))),
        max(size(col("features"))),
        sum(when(col("label").isNull(), 1).otherwise(0)),
        min(col("label")),
        max(col("label")),
        // Null values inside the lists: checked only when the file's schema allows them (a
        // higher-order function per row is not free; Lopper's own writer never allows them).
        elementsNullable ? sum(when(exists(col("features"), Column::isNull), 1).otherwise(0)) : lit(0L)).first();
    long rows = stats.getLong(0);
    String where = spec.path();
    if (rows == 0) {
      throw new InvalidInputException(where + ": the validation data has no rows");
    }
    if (stats.getLong(1) > 0) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " is null in "
          + stats.getLong(1) + " of " + rows + " rows");
    }
    if (((Number) stats.get(7)).longValue() > 0) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " has null values in "
          + stats.get(7) + " of " + rows + " rows");
    }
    int minLength = stats.getInt(2);
    int maxLength = stats.getInt(3);
    if (minLength != spec.rowLength() || maxLength != spec.rowLength()) {
      throw new InvalidInputException(where + ": column " + spec.featuresColumn() + " has rows of "
          + (minLength == maxLength ? minLength : minLength + " to " + maxLength) + " values; the model input "
          + Arrays.toString(spec.rowShape()) + " needs " + spec.rowLength() + " per row");
    }
    if (labelled) {
      if (stats.getLong(4) > 0) {
        throw new InvalidInputException(where + ": column " + spec.labelColumn() + " is null in "
            + stats.getLong(4) + " of " + rows + " rows");
      }
      long minLabel = stats.getLong(5);
      long maxLabel = stats.getLong(6);
      if (minLabel < 0 || maxLabel >= classes) {
        throw new InvalidInputException(where + ": column " + spec.labelColumn() + " has labels from "
            + minLabel + " to " + maxLabel + "; the model has " + classes + " classes, so labels must lie in [0, "
            + (classes - 1) + "]");
      }
    }

    Dataset<Row> data = spec.partitions() > 0 ? selected.repartition(spec.partitions()) : selected;
    int rowLength = spec.rowLength();
    // A typed bean encoder copies each row's array<float> into a float[] in one go: about twice as fast
    // as reading a Row's Seq of boxed Floats (STACK-NOTES), and nothing boxed on the data path.
    JavaRDD<PartitionRows> decoded = data.as(Encoders.bean(EncodedRow.class)).javaRDD()
        .mapPartitionsWithIndex((index, it) -> List.of(decode(index, it, rowLength, labelled)).iterator(), true);
    decoded.setName("validation data " + spec.path());
    decoded.persist(StorageLevel.MEMORY_AND_DISK());
    // Decode every partition once now; otherwise the sweep's concurrent units of one partition
    // would each decode it before the first copy is cached.
    decoded.count();
    return new ValidationData(spec, rows, decoded);
  }

  private static PartitionRows decode(int partition, Iterator<EncodedRow> it, int rowLength, boolean labelled) {
    float[] features = new float[1024 * rowLength];
    int[] labels = new int[1024];
    int n = 0;
    while (it.hasNext()) {
      EncodedRow row = it.next();
      if (n == labels.length) {
        features = Arrays.copyOf(features, features.length * 2);
        labels = Arrays.copyOf(labels, labels.length * 2);
      }
      System.arraycopy(row.getFeatures(), 0, features, n * rowLength, rowLength);
      labels[n] = (int) row.getLabel();
      n++;
    }
    return new PartitionRows(partition, n, rowLength, Arrays.copyOf(features, n * rowLength),
        labelled ? Arrays.copyOf(labels, n) : null);
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

  private static String quoted(String column) {
    return "`" + column.replace("`", "``") + "`";
  }

  private static String firstLine(Exception e) {
    String m = String.valueOf(e.getMessage());
    return m.lines().findFirst().orElse(m);
  }
}
