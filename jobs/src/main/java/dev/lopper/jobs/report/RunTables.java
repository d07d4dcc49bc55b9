package dev.lopper.jobs.report;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.RowSchema;
import dev.lopper.io.Table;
import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.sweep.SensitivityRow;
import dev.lopper.jobs.verify.VerificationRow;
import dev.lopper.mask.MaskSummaryRow;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * The tables a run wrote into its directory, as the report and the comparison read them back from
 * their Parquet files, as typed rows; a table the run did not write (a {@code sensitivity} run has
 * no allocation) is null.
 *
 * @param sensitivity {@code sensitivity.parquet}: one row per (tensor, sparsity) and the baseline
 * @param allocation {@code allocation.parquet}: chosen sparsity per tensor (a structured run's
 *     table has more columns, which are not read)
 * @param masks {@code masks.parquet}: kept and pruned elements per tensor
 * @param verification {@code verification.parquet}: dense and pruned metrics
 */
public record RunTables(List<SensitivityRow> sensitivity, List<TensorAllocation> allocation,
    List<MaskSummaryRow> masks, List<VerificationRow> verification) {

  public RunTables {
    sensitivity = sensitivity == null ? null : List.copyOf(sensitivity);
    allocation = allocation == null ? null : List.copyOf(allocation);
    masks = masks == null ? null : List.copyOf(masks);
    verification = verification == null ? null : List.copyOf(verification);
  }

  /**
   * Reads the tables present in {@code dir} (a run directory or its temporary sibling).
   *
   * @throws InvalidInputException when a table lacks a column its rows need, or holds one of
   *     another type, naming the file
   */
  public static RunTables read(String dir, Configuration conf) {
    return new RunTables(rows(dir, "sensitivity", SensitivityRow.SCHEMA, conf),
        rows(dir, "allocation", TensorAllocation.SCHEMA, conf), rows(dir, "masks", MaskSummaryRow.SCHEMA, conf),
        rows(dir, "verification", VerificationRow.SCHEMA, conf));
  }

  private static <R extends Record> List<R> rows(String dir, String name, RowSchema<R> schema, Configuration conf) {
    String path = new Path(dir, name + ".parquet").toString();
    if (!HadoopFiles.exists(path, conf)) {
      return null;
    }
    Table table = ParquetTables.read(path, conf);
    try {
      return schema.rows(table);
    } catch (InvalidInputException e) {
      throw new InvalidInputException(path + ": " + e.getMessage(), e);
    }
  }
}
