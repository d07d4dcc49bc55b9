package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad token data for the sample language model stops the run before any evaluation, with one line
 * naming the file, column, row and value, exit code 2 and no output: ids outside the embedding table
 * or negative, targets of another length than the tokens, a sequence longer than the position table,
 * a target column that is -100 everywhere, a model input with no column, a column of the wrong type.
 */
class LanguageModelBadInputTest {
  @TempDir Path dir;

  private static List<long[]> rows() {
    Table table = ParquetTables.read(SampleData.path("tiny-lm-val.parquet"), new Configuration());
    List<long[]> rows = new ArrayList<>();
    table.rows().forEach(r -> rows.add(((long[]) r.get(table.indexOf("input_ids"))).clone()));
    return rows.subList(0, 16);
  }

  /** A token file of {@code rows} in column {@code column}, with {@code targets} when not null. */
  private String tokens(String name, String column, List<long[]> rows, List<long[]> targets) {
    Table.Builder table = Table.builder().column("id", Table.Type.INT).column(column, Table.Type.LONG_LIST);
    if (targets != null) {
      table.column("targets", Table.Type.LONG_LIST);
    }
    for (int r = 0; r < rows.size(); r++) {
      table.row(targets == null ? new Object[] {r, rows.get(r)} : new Object[] {r, rows.get(r), targets.get(r)});
    }
    String path = dir.resolve(name + ".parquet").toString();
    ParquetTables.write(table.build(), path, new Configuration());
    return path;
  }

  private RunLopper sensitivity(String data, String... more) {
    List<String> args = new ArrayList<>(List.of("sensitivity", "--model", SampleData.path("tiny-lm.onnx"),
        "--data", data, "--metric", "perplexity", "--set", "sweep.sparsities=[0.5]", "--set",
        "model.include=[lm_head.weight]", "--out", dir.resolve("out").toString()));
    args.addAll(List.of(more));
    return RunLopper.run(args.toArray(String[]::new));
  }

  private void assertRefused(RunLopper run, String... fragments) {
    run.assertRefused(dir.resolve("out"), fragments);
  }

  @Test
  void refusesATokenIdOutsideTheEmbeddingTableNamingRowAndValue() {
    List<long[]> rows = rows();
    rows.get(5)[7] = 300;
    assertRefused(sensitivity(tokens("big", "input_ids", rows, null)), "big.parquet", "row 5", "input_ids",
        "token id 300", "position 7", "[0, 256)");
  }

  @Test
  void refusesNegativeTokenIds() {
    List<long[]> rows = rows();
    rows.get(9)[0] = -1;
    assertRefused(sensitivity(tokens("negative", "input_ids", rows, null)), "row 9", "token id -1");
  }

  @Test
  void refusesTargetsOfAnotherLengthThanTheTokens() {
    List<long[]> rows = rows();
    List<long[]> targets = new ArrayList<>();
    rows.forEach(r -> targets.add(Arrays.copyOf(r, r.length)));
    targets.set(3, Arrays.copyOf(rows.get(3), 63));
    assertRefused(sensitivity(tokens("short", "input_ids", rows, targets), "--set", "data.targets=targets"),
        "row 3", "targets has 63 values but input_ids has 64");
  }

  @Test
  void refusesATargetColumnThatIsMinus100Everywhere() {
    List<long[]> rows = rows();
    List<long[]> targets = new ArrayList<>();
    rows.forEach(r -> {
      long[] t = new long[r.length];
      Arrays.fill(t, -100);
      targets.add(t);
    });
    assertRefused(sensitivity(tokens("none", "input_ids", rows, targets), "--set", "data.targets=targets"),
        "column targets is -100 everywhere");
  }

  @Test
  void refusesSequencesLongerThanThePositionTable() {
    List<long[]> rows = new ArrayList<>();
    for (long[] r : rows()) {
      long[] longer = Arrays.copyOf(r, 80);
      System.arraycopy(r, 0, longer, 64, 16);
      rows.add(longer);
    }
    assertRefused(sensitivity(tokens("long", "input_ids", rows, null)), "long.parquet", "80 tokens", "tiny-lm.onnx");
  }

  @Test
  void refusesAModelInputWithoutAColumn() {
    assertRefused(sensitivity(tokens("renamed", "ids", rows(), null)), "no column input_ids",
        "model input input_ids", "[id, ids]", "data.inputs");
  }

  @Test
  void readsAModelInputFromTheColumnDataInputsNames() {
    RunLopper run = sensitivity(tokens("renamed", "ids", rows(), null), "--set", "data.inputs={input_ids: ids}");
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
  }

  @Test
  void refusesAColumnOfTheWrongElementType() {
    Table.Builder table = Table.builder().column("input_ids", Table.Type.FLOAT_LIST);
    table.row((Object) new float[] {1, 2, 3});
    String path = dir.resolve("floats.parquet").toString();
    ParquetTables.write(table.build(), path, new Configuration());
    assertRefused(sensitivity(path), "floats.parquet", "column input_ids", "array<float>", "list of integers");
  }
}
