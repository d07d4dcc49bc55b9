package dev.lopper.testing;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.hadoop.conf.Configuration;

/** The sample validation split, data/digits-val.parquet, as batches for single-process tests. */
public final class ValidationSet {
  private ValidationSet() {}

  /** The table as Lopper's Parquet reader returns it. */
  public static Table table() {
    return ParquetTables.read(SampleData.file("digits-val.parquet"), new Configuration());
  }

  /** All rows in order, as batches of {@code batchSize}, shaped {@code rowShape}. */
  public static List<Batch> batches(long[] rowShape, int batchSize, BufferAllocator allocator) {
    Table table = table();
    int features = table.indexOf("features");
    int label = table.indexOf("label");
    List<Batch> batches = new ArrayList<>();
    int rows = table.rows().size();
    for (int start = 0; start < rows; start += batchSize) {
      int n = Math.min(batchSize, rows - start);
      try (BatchBuilder builder = new BatchBuilder(rowShape, n, true, allocator)) {
        builder.columns("features", "label").startAtRow(start);
        for (int r = start; r < start + n; r++) {
          List<Object> row = table.rows().get(r);
          builder.add((float[]) row.get(features), ((Number) row.get(label)).intValue());
        }
        batches.add(builder.build());
      }
    }
    return batches;
  }
}
