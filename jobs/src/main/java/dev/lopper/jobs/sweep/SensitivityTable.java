package dev.lopper.jobs.sweep;

import dev.lopper.io.Table;
import dev.lopper.metrics.Metrics;
import dev.lopper.metrics.Tally;
import dev.lopper.model.PrunableTensor;

/**
 * The sensitivity table people and machines read: one row for the dense baseline (tensor
 * {@value #BASELINE}, sparsity 0) and one per (tensor, sparsity), with every metric, its change
 * from the baseline ({@code delta_<metric>} = value − baseline) and the number of samples.
 */
public final class SensitivityTable {
  /** The tensor name of the baseline row. */
  public static final String BASELINE = "(dense)";

  /** The metric columns, in order, as named in the table. */
  public static final String[] METRIC_COLUMNS =
      {"accuracy", "top5", "loss", "precision_macro", "recall_macro", "f1_macro", "kl"};

  private SensitivityTable() {}

  /** The table of a merged sweep. */
  public static Table of(SweepResult result) {
    Table.Builder table = Table.builder()
        .column("tensor", Table.Type.STRING)
        .column("op", Table.Type.STRING)
        .column("parameters", Table.Type.LONG)
        .column("criterion", Table.Type.STRING)
        .column("sparsity", Table.Type.DOUBLE)
        .column("pruned", Table.Type.LONG);
    for (String m : METRIC_COLUMNS) {
      table.column(m, Table.Type.DOUBLE);
    }
    for (String m : METRIC_COLUMNS) {
      table.column("delta_" + m, Table.Type.DOUBLE);
    }
    table.column("samples", Table.Type.LONG);

    SweepSpec spec = result.spec();
    double[] base = values(result.baseline().metrics());
    table.row(row(BASELINE, "", 0L, spec.criterion(), 0.0, 0L, base, base, result.baseline()));
    double[] grid = spec.sparsities();
    for (int t = 0; t < spec.tensors().size(); t++) {
      PrunableTensor tensor = spec.tensors().get(t);
      for (int s = 0; s < grid.length; s++) {
        Tally tally = result.variant(t, s);
        long pruned = (long) Math.rint(grid[s] * tensor.parameters());
        table.row(row(tensor.name(), tensor.opType(), tensor.parameters(), spec.criterion(), grid[s], pruned,
            values(tally.metrics()), base, tally));
      }
    }
    return table.build();
  }

  private static Object[] row(String tensor, String op, long parameters, String criterion, double sparsity,
      long pruned, double[] values, double[] base, Tally tally) {
    Object[] row = new Object[6 + 2 * values.length + 1];
    row[0] = tensor;
    row[1] = op;
    row[2] = parameters;
    row[3] = criterion;
    row[4] = sparsity;
    row[5] = pruned;
    for (int i = 0; i < values.length; i++) {
      row[6 + i] = values[i];
      row[6 + values.length + i] = values[i] - base[i];
    }
    row[row.length - 1] = tally.samples();
    return row;
  }

  /** The metric values in {@link #METRIC_COLUMNS} order. */
  public static double[] values(Metrics m) {
    return new double[] {m.accuracy(), m.top5(), m.loss(), m.precisionMacro(), m.recallMacro(), m.f1Macro(), m.kl()};
  }
}
