package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.spark.LocalSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad configuration or data stops the real pipeline before any evaluation task runs, with one
 * clear line naming the key, file or column, exit code 2, and no output directory.
 */
class BadInputTest {
  @TempDir Path dir;

  private RunLopper sensitivity(String data, String... more) {
    List<String> args = new ArrayList<>(List.of("sensitivity",
        "--model", SampleData.path("digits-mlp.onnx"), "--data", data,
        "--features", "features", "--label", "label", "--out", dir.resolve("out").toString()));
    args.addAll(List.of(more));
    return RunLopper.run(args.toArray(String[]::new));
  }

  private void assertRefused(RunLopper run, String... fragments) {
    run.assertRefused(dir.resolve("out"), fragments);
  }

  /** A copy of the validation split with each row changed by {@code edit}. */
  private String data(String name, List<Table.Column> columns, RowEdit edit) {
    Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
    Table.Builder table = Table.builder();
    columns.forEach(c -> table.column(c.name(), c.type()));
    for (List<Object> row : val.rows()) {
      Object[] out = edit.apply((float[]) row.get(val.indexOf("features")), ((Number) row.get(val.indexOf("label"))).intValue());
      if (out != null) {
        table.row(out);
      }
    }
    String path = dir.resolve(name + ".parquet").toString();
    ParquetTables.write(table.build(), path, new Configuration());
    return path;
  }

  interface RowEdit {
    Object[] apply(float[] features, int label);
  }

  private static final List<Table.Column> STANDARD = List.of(
      new Table.Column("features", Table.Type.FLOAT_LIST), new Table.Column("label", Table.Type.INT));

  @Test
  void unknownKeyIsRefusedWithASuggestion() {
    assertRefused(sensitivity(SampleData.path("digits-val.parquet"), "--set", "data.batchsize=10"),
        "data.batchsize", "data.batch-size");
  }

  @Test
  void missingColumnIsRefusedNamingItAndTheColumnsThere() {
    assertRefused(sensitivity(SampleData.path("digits-val.parquet"), "--features", "pixels"),
        "pixels", "features", "digits-val.parquet");
  }

  @Test
  void columnOfTheWrongTypeIsRefused() {
    String path = data("string-labels", List.of(new Table.Column("features", Table.Type.FLOAT_LIST),
        new Table.Column("label", Table.Type.STRING)), (f, l) -> new Object[] {f, "digit " + l});
    assertRefused(sensitivity(path), "label", "string", "integer");
  }

  @Test
  void featureLengthThatDoesNotFitTheInputIsRefused() {
    String path = data("short-rows", STANDARD, (f, l) -> new Object[] {java.util.Arrays.copyOf(f, 63), l});
    assertRefused(sensitivity(path), "features", "63", "64");
  }

  @Test
  void labelsOutsideTheModelsClassesAreRefused() {
    String path = data("bad-labels", STANDARD, (f, l) -> new Object[] {f, l == 3 ? 10 : l});
    assertRefused(sensitivity(path), "label", "10", "[0, 9]");
  }

  @Test
  void emptyDataIsRefused() {
    String path = data("empty", STANDARD, (f, l) -> null);
    assertRefused(sensitivity(path), "no rows");
  }

  @Test
  void inputShapeThatDoesNotFitTheModelIsRefused() {
    assertRefused(sensitivity(SampleData.path("digits-val.parquet"), "--set", "data.input-shape=[8,8]"),
        "input-shape", "[8, 8]");
  }

  /**
   * The validation split written by Spark with nullable columns (what most writers produce), the
   * rows of label 3 changed by {@code edit}: a null features list, a null value in the list, or a
   * null label.
   */
  private String nullableData(String name, RowEdit edit) {
    Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
    List<Row> rows = new ArrayList<>();
    for (List<Object> row : val.rows()) {
      float[] f = (float[]) row.get(val.indexOf("features"));
      int l = ((Number) row.get(val.indexOf("label"))).intValue();
      Object[] out = l == 3 ? edit.apply(f, l) : new Object[] {f, l};
      List<Float> boxed = null;
      if (out[0] != null) {
        boxed = new ArrayList<>();
        for (float v : (float[]) out[0]) {
          boxed.add(v);
        }
        if (out.length > 2) {
          boxed.set(5, null);
        }
      }
      rows.add(RowFactory.create(boxed == null ? null : boxed.toArray(), out[1]));
    }
    StructType schema = new StructType()
        .add("features", DataTypes.createArrayType(DataTypes.FloatType, true), true)
        .add("label", DataTypes.IntegerType, true);
    String path = dir.resolve(name + ".parquet").toString();
    SparkSession spark = LocalSpark.start(1);
    try {
      spark.createDataFrame(rows, schema).coalesce(1).write().parquet(path);
    } finally {
      spark.stop();
    }
    return path;
  }

  /** Rows of label 3 in the validation split, the rows {@link #nullableData} edits. */
  private static long threes() {
    Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
    return val.rows().stream().filter(r -> ((Number) r.get(val.indexOf("label"))).intValue() == 3).count();
  }

  @Test
  void nullFeatureListsAreRefusedWithTheirCount() {
    String path = nullableData("null-features", (f, l) -> new Object[] {null, l});
    assertRefused(sensitivity(path), "features", "is null in " + threes() + " of 360 rows");
  }

  @Test
  void nullValuesInsideFeatureListsAreRefused() {
    String path = nullableData("null-values", (f, l) -> new Object[] {f, l, "null at 5"});
    assertRefused(sensitivity(path), "features", "null values in " + threes() + " of 360 rows");
  }

  @Test
  void nullLabelsAreRefused() {
    String path = nullableData("null-labels", (f, l) -> new Object[] {f, null});
    assertRefused(sensitivity(path), "label", "is null in " + threes() + " of 360 rows");
  }

  @Test
  void nullableColumnsWithoutNullsAreAccepted() {
    String path = nullableData("nullable-clean", (f, l) -> new Object[] {f, l});
    RunLopper run = sensitivity(path);
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
  }

  @Test
  void refusesAClassifierMetricOnALanguageModel() {
    RunLopper run = RunLopper.run("sensitivity", "--model", SampleData.path("tiny-lm.onnx"), "--data",
        SampleData.path("tiny-lm-val.parquet"), "--metric", "kl", "--out", dir.resolve("out").toString());
    assertRefused(run, "metric kl is a classifier's", "tiny-lm.onnx", "[input_ids]", "perplexity");
  }
}
