package dev.lopper.jobs.report;

import dev.lopper.io.HadoopFiles;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The tables a run wrote into its directory, as the report and the comparison read them back from
 * their Parquet files; a table the run did not write (a {@code sensitivity} run has no allocation)
 * is null.
 *
 * @param sensitivity {@code sensitivity.parquet}: one row per (tensor, sparsity) and the baseline
 * @param allocation {@code allocation.parquet}: chosen sparsity per tensor
 * @param masks {@code masks.parquet}: kept and pruned elements per tensor
 * @param verification {@code verification.parquet}: dense and pruned metrics
 */
public record RunTables(Table sensitivity, Table allocation, Table masks, Table verification) {

  /** Reads the tables present in {@code dir} (a run directory or its temporary sibling). */
  public static RunTables read(String dir, Configuration conf) {
    return new RunTables(table(dir, "sensitivity", conf), table(dir, "allocation", conf), table(dir, "masks", conf),
        table(dir, "verification", conf));
  }

  private static Table table(String dir, String name, Configuration conf) {
    String path = new Path(dir, name + ".parquet").toString();
    return HadoopFiles.exists(path, conf) ? ParquetTables.read(path, conf) : null;
  }

  /** The value in {@code column} of {@code row}, as a double (NaN for null or a missing column). */
  static double number(Table table, List<Object> row, String column) {
    int i = table.indexOf(column);
    if (i < 0 || row.get(i) == null) {
      return Double.NaN;
    }
    return ((Number) row.get(i)).doubleValue();
  }

  /** The value in {@code column} of {@code row} as a long (0 for null or a missing column). */
  static long whole(Table table, List<Object> row, String column) {
    int i = table.indexOf(column);
    return i < 0 || row.get(i) == null ? 0 : ((Number) row.get(i)).longValue();
  }

  /** The value in {@code column} of {@code row} as a string ("" for null or a missing column). */
  static String string(Table table, List<Object> row, String column) {
    int i = table.indexOf(column);
    if (i < 0 || row.get(i) == null) {
      return "";
    }
    Object v = row.get(i);
    if (v instanceof long[] longs) {
      return java.util.Arrays.stream(longs).mapToObj(Long::toString).collect(java.util.stream.Collectors.joining(" "));
    }
    if (v instanceof float[] floats) {
      StringBuilder s = new StringBuilder();
      for (float f : floats) {
        s.append(s.length() == 0 ? "" : " ").append(f);
      }
      return s.toString();
    }
    return v.toString();
  }

  /**
   * The sensitivity table's column for a decision metric: the metric's name, except {@code f1},
   * whose column is {@code f1_macro}.
   */
  static String metricColumn(String metric) {
    return switch (metric) {
      case "f1" -> "f1_macro";
      case "precision" -> "precision_macro";
      case "recall" -> "recall_macro";
      default -> metric;
    };
  }
}
