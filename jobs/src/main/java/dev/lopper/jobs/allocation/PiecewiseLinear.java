package dev.lopper.jobs.allocation;

/** Curves measured at some sparsities, read between them: linear from (0, 0) through the points. */
final class PiecewiseLinear {
  private PiecewiseLinear() {}

  /**
   * The value at {@code s} of the curve through (0, 0) and ({@code xs[i]}, {@code ys[i]}), linear
   * between points; {@code xs} strictly increasing, {@code s} in [0, last x] (the caller checks).
   */
  static double at(double[] xs, double[] ys, double s) {
    double leftX = 0;
    double leftY = 0;
    for (int i = 0; i < xs.length; i++) {
      if (s <= xs[i]) {
        if (s == xs[i]) {
          return ys[i];
        }
        double w = (s - leftX) / (xs[i] - leftX);
        return leftY + w * (ys[i] - leftY);
      }
      leftX = xs[i];
      leftY = ys[i];
    }
    return ys[ys.length - 1];
  }
}
