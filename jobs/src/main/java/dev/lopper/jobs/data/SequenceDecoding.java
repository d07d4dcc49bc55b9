package dev.lopper.jobs.data;

import static org.apache.spark.sql.functions.col;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.io.ParquetTables;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.IntegralType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * Reads token sequences for a model of token inputs ({@link SequenceSpec}): each model input's
 * column (a list of integers per row) and the optional target column, decoded once per partition
 * into {@link SequenceRows} and cached, checked on the way so that before any evaluation one message
 * names the file, column, row and value of the first row that cannot be used.
 */
final class SequenceDecoding {

  private SequenceDecoding() {}

  static ValidationData load(ValidationData.Spec spec, Dataset<Row> raw, ParquetTables.Footer footer) {
    SequenceSpec seq = spec.sequences();
    StructType schema = raw.schema();
    List<Column> selected = new ArrayList<>();
    for (SequenceSpec.Column c : seq.inputs()) {
      checkIntegerList(spec.path(), schema, c.column(), "model input " + c.input()
          + (c.column().equals(c.input()) ? "" : " (data.inputs)"));
      selected.add(col(ValidationData.quoted(c.column())).cast(DataTypes.createArrayType(DataTypes.LongType)));
    }
    if (seq.targets() != null) {
      checkIntegerList(spec.path(), schema, seq.targets(), "targets (data.targets)");
      selected.add(col(ValidationData.quoted(seq.targets())).cast(DataTypes.createArrayType(DataTypes.LongType)));
    }
    Dataset<Row> data = raw.select(selected.toArray(Column[]::new));
    data = spec.partitions() > 0 ? data.repartition(spec.partitions())
        : spec.partitions() == ValidationData.Spec.FILE_ORDER ? data : ValidationData.withoutEmptySplits(footer, data);
    JavaRDD<PartitionData> decoded = data.queryExecution().toRdd().toJavaRDD()
        .mapPartitionsWithIndex((index, it) -> List.<PartitionData>of(decode(index, it, seq)).iterator(), true);
    decoded.setName("token sequences " + spec.path());
    decoded.persist(StorageLevel.MEMORY_AND_DISK());
    List<SequenceChecks> checks = decoded.map(p -> ((SequenceRows) p).checks()).collect();
    try {
      verify(spec, checks);
    } catch (RuntimeException e) {
      decoded.unpersist(false);
      throw e;
    }
    int[] rowsPerPartition = checks.stream().mapToInt(c -> Math.toIntExact(c.rows())).toArray();
    int longest = checks.stream().mapToInt(SequenceChecks::maxLength).max().orElse(0);
    return ValidationData.of(spec, rowsPerPartition, longest, decoded);
  }

  /** The first problem, its row counted over the partitions in order; no rows; nothing to predict. */
  private static void verify(ValidationData.Spec spec, List<SequenceChecks> checks) {
    long offset = 0;
    long rows = 0;
    long targets = 0;
    for (SequenceChecks c : checks) {
      if (c.problem() != null) {
        throw new InvalidInputException(spec.path() + ": row " + (offset + c.problemRow()) + ": " + c.problem());
      }
      offset += c.rows();
      rows += c.rows();
      targets += c.targets();
    }
    if (rows == 0) {
      throw new InvalidInputException(spec.path() + ": the validation data has no rows");
    }
    SequenceSpec seq = spec.sequences();
    if (seq.predicts() && targets == 0) {
      throw new InvalidInputException(spec.path() + ": no position has a target token to predict ("
          + (seq.targets() != null ? "column " + seq.targets() + " is -100 everywhere"
              : "every row of " + seq.tokensColumn().column() + " has a single token")
          + "); a language model's metrics need at least one");
    }
  }

  private static void checkIntegerList(String path, StructType schema, String column, String role) {
    StructField field = null;
    for (StructField f : schema.fields()) {
      if (f.name().equals(column)) {
        field = f;
      }
    }
    if (field == null) {
      throw new InvalidInputException(path + ": no column " + column + " for " + role + "; the columns are "
          + Arrays.toString(schema.fieldNames()) + " (map model inputs to columns with data.inputs)");
    }
    DataType type = field.dataType();
    if (!(type instanceof ArrayType at) || !(at.elementType() instanceof IntegralType)) {
      throw new InvalidInputException(path + ": column " + column + " (" + role + ") has type "
          + type.simpleString() + "; expected a list of integers per row (token ids, attention mask)");
    }
  }

  /** Decodes one partition's rows, recording the first that cannot be used. */
  private static SequenceRows decode(int partition, Iterator<InternalRow> it, SequenceSpec seq) {
    int inputs = seq.inputs().size();
    int columns = inputs + (seq.targets() != null ? 1 : 0);
    int maskIndex = -1;
    int tokensIndex = -1;
    for (int i = 0; i < inputs; i++) {
      maskIndex = seq.inputs().get(i).input().equals(seq.mask()) ? i : maskIndex;
      tokensIndex = seq.inputs().get(i).input().equals(seq.tokens()) ? i : tokensIndex;
    }
    long tokenVocabulary = seq.inputs().get(tokensIndex).vocabulary();
    long[][] values = new long[columns][1 << 12];
    int[] offsets = new int[1025];
    int n = 0;
    int size = 0;
    long seen = 0;
    int minLength = Integer.MAX_VALUE;
    int maxLength = -1;
    long targets = 0;
    long problemRow = -1;
    String problem = null;
    while (it.hasNext()) {
      InternalRow row = it.next();
      long index = seen++;
      if (problem != null) {
        continue;
      }
      int length = -1;
      String why = null;
      for (int c = 0; c < columns && why == null; c++) {
        String name = c < inputs ? seq.inputs().get(c).column() : seq.targets();
        if (row.isNullAt(c)) {
          why = "column " + name + " is null";
          break;
        }
        ArrayData list = row.getArray(c);
        int count = list.numElements();
        if (length < 0) {
          length = count;
        } else if (count != length) {
          why = "column " + name + " has " + count + " values but " + seq.inputs().get(0).column() + " has "
              + length + "; a row's lists must have one length";
          break;
        }
        long vocabulary = c < inputs ? seq.inputs().get(c).vocabulary() : tokenVocabulary;
        for (int t = 0; t < count; t++) {
          if (list.isNullAt(t)) {
            why = "column " + name + " has a null value at position " + t;
            break;
          }
          long v = list.getLong(t);
          boolean target = c == inputs;
          if (target ? v != Batch.NO_TARGET && (v < 0 || (vocabulary > 0 && v >= vocabulary))
              : vocabulary > 0 && (v < 0 || v >= vocabulary)) {
            why = "column " + name + " has " + (target ? "target " : "token id ") + v + " at position " + t
                + ", outside the embedding table's [0, " + vocabulary + ")"
                + (target ? " (-100 predicts nothing)" : "");
            break;
          }
        }
      }
      if (why == null && length == 0) {
        why = "column " + seq.inputs().get(0).column() + " is an empty list";
      }
      if (why == null && seq.length() > 0 && (length > seq.length() || (seq.mask() == null && length != seq.length()))) {
        why = "column " + seq.inputs().get(0).column() + " has " + length + " tokens; the model's inputs take "
            + (seq.mask() == null ? "exactly " : "at most ") + seq.length();
      }
      if (why != null) {
        problem = why;
        problemRow = index;
        continue;
      }
      if (n + 1 == offsets.length) {
        offsets = Arrays.copyOf(offsets, offsets.length * 2);
      }
      while (size + length > values[0].length) {
        for (int c = 0; c < columns; c++) {
          values[c] = Arrays.copyOf(values[c], values[c].length * 2);
        }
      }
      for (int c = 0; c < columns; c++) {
        ArrayData list = row.getArray(c);
        for (int t = 0; t < length; t++) {
          values[c][size + t] = list.getLong(t);
        }
      }
      if (seq.targets() != null) {
        for (int t = 0; t < length; t++) {
          targets += values[inputs][size + t] != Batch.NO_TARGET ? 1 : 0;
        }
      } else {
        for (int t = 0; t + 1 < length; t++) {
          targets += maskIndex < 0 || values[maskIndex][size + t + 1] != 0 ? 1 : 0;
        }
      }
      size += length;
      n++;
      offsets[n] = size;
      minLength = Math.min(minLength, length);
      maxLength = Math.max(maxLength, length);
    }
    long[][] inputValues = new long[inputs][];
    for (int c = 0; c < inputs; c++) {
      inputValues[c] = Arrays.copyOf(values[c], size);
    }
    long[] targetValues = seq.targets() != null ? Arrays.copyOf(values[inputs], size) : null;
    return new SequenceRows(partition, n, Arrays.copyOf(offsets, n + 1), inputValues, targetValues,
        new SequenceChecks(seen, minLength, maxLength, targets, problemRow, problem));
  }
}
