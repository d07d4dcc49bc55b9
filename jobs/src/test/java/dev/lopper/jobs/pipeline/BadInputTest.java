package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
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
    assertEquals(ExitCode.BAD_INPUT, run.exit(), run.stderr());
    String line = run.stderr().lines().filter(l -> l.startsWith("lopper: error:")).findFirst().orElse("");
    for (String fragment : fragments) {
      assertTrue(line.contains(fragment), "'" + fragment + "' not in: " + run.stderr());
    }
    assertFalse(Files.exists(dir.resolve("out")), "no output directory is left");
    assertFalse(run.stderr().contains("\tat "), "no stack trace: " + run.stderr());
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
}
