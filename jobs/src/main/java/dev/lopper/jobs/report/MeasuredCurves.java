package dev.lopper.jobs.report;

import dev.lopper.jobs.sweep.SensitivityRow;
import java.util.ArrayList;
import java.util.Comparator;
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
   * @param node the readable name of a tensor whose name is anonymous, or null
   * @param op the operator that consumes it
   * @param parameters its number of elements
   * @param sparsities the swept sparsities
   * @param values the decision metric at each sparsity
   */
  record Curve(String tensor, String node, String op, long parameters, double[] sparsities, double[] values) {

    /** The tensor's name, followed by its readable name in parentheses when it has one. */
    String label() {
      return node == null ? tensor : tensor + " (" + node + ")";
    }

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

  /** The curves of {@code metric} in the rows of a sensitivity table. */
  static MeasuredCurves of(List<SensitivityRow> sensitivity, String metric) {
    double baseline = Double.NaN;
    Map<String, List<SensitivityRow>> rows = new LinkedHashMap<>();
    for (SensitivityRow row : sensitivity) {
      String tensor = row.tensor() == null ? "" : row.tensor();
      if (tensor.equals(BASELINE)) {
        baseline = value(row, metric);
      } else {
        rows.computeIfAbsent(tensor, t -> new ArrayList<>()).add(row);
      }
    }
    List<Curve> curves = new ArrayList<>();
    for (Map.Entry<String, List<SensitivityRow>> e : rows.entrySet()) {
      List<SensitivityRow> points = new ArrayList<>(e.getValue());
      points.sort(Comparator.comparingDouble(SensitivityRow::sparsity));
      double[] s = new double[points.size()];
      double[] v = new double[points.size()];
      for (int i = 0; i < s.length; i++) {
        s[i] = points.get(i).sparsity();
        v[i] = value(points.get(i), metric);
      }
      SensitivityRow first = points.get(0);
      curves.add(new Curve(e.getKey(), first.node(), first.op() == null ? "" : first.op(), first.parameters(), s, v));
    }
    return new MeasuredCurves(metric, baseline, curves);
  }

  /** The value of {@code metric} in {@code row}; NaN when the table does not hold it. */
  static double value(SensitivityRow row, String metric) {
    Double v = row.metrics().get(metric);
    return v == null ? Double.NaN : v;
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
