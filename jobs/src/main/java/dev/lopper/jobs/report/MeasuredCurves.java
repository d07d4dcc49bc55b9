package dev.lopper.jobs.report;

import dev.lopper.io.Table;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The decision metric's measured values per tensor and sparsity, as the sensitivity table holds
 * them: what the report plots and the comparison of two runs compares.
 *
 * @param metric the decision metric's name ({@code accuracy}, {@code f1}, ...)
 * @param baseline the dense model's value (the table's {@code (dense)} row)
 * @param curves one per tensor, in the table's order
 */
record MeasuredCurves(String metric, double baseline, List<Curve> curves) {

  /** The tensor name of the sensitivity table's baseline row. */
  static final String BASELINE = "(dense)";

  /**
   * One tensor's measured points, sorted by sparsity.
   *
   * @param tensor the tensor's name
   * @param op the operator that consumes it
   * @param parameters its number of elements
   * @param sparsities the swept sparsities
   * @param values the decision metric at each sparsity
   */
  record Curve(String tensor, String op, long parameters, double[] sparsities, double[] values) {

    /** The value at {@code sparsity} exactly, or NaN when it was not swept. */
    double valueAt(double sparsity) {
      for (int i = 0; i < sparsities.length; i++) {
        if (sparsities[i] == sparsity) {
          return values[i];
        }
      }
      return Double.NaN;
    }
  }

  MeasuredCurves {
    curves = List.copyOf(curves);
  }

  /** The curves of {@code metric} in a sensitivity table. */
  static MeasuredCurves of(Table sensitivity, String metric) {
    String column = RunTables.metricColumn(metric);
    double baseline = Double.NaN;
    Map<String, List<List<Object>>> rows = new LinkedHashMap<>();
    for (List<Object> row : sensitivity.rows()) {
      String tensor = RunTables.string(sensitivity, row, "tensor");
      if (tensor.equals(BASELINE)) {
        baseline = RunTables.number(sensitivity, row, column);
      } else {
        rows.computeIfAbsent(tensor, t -> new ArrayList<>()).add(row);
      }
    }
    List<Curve> curves = new ArrayList<>();
    for (Map.Entry<String, List<List<Object>>> e : rows.entrySet()) {
      List<List<Object>> points = new ArrayList<>(e.getValue());
      points.sort((a, b) -> Double.compare(RunTables.number(sensitivity, a, "sparsity"),
          RunTables.number(sensitivity, b, "sparsity")));
      double[] s = new double[points.size()];
      double[] v = new double[points.size()];
      for (int i = 0; i < s.length; i++) {
        s[i] = RunTables.number(sensitivity, points.get(i), "sparsity");
        v[i] = RunTables.number(sensitivity, points.get(i), column);
      }
      List<Object> first = points.get(0);
      curves.add(new Curve(e.getKey(), RunTables.string(sensitivity, first, "op"),
          RunTables.whole(sensitivity, first, "parameters"), s, v));
    }
    return new MeasuredCurves(metric, baseline, curves);
  }

  /** The curve of {@code tensor}, or null. */
  Curve curve(String tensor) {
    return curves.stream().filter(c -> c.tensor().equals(tensor)).findFirst().orElse(null);
  }

  /** Every swept sparsity of any tensor, ascending. */
  double[] grid() {
    return curves.stream().flatMapToDouble(c -> java.util.Arrays.stream(c.sparsities())).distinct().sorted().toArray();
  }
}
