package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * A weight tensor seen as PyTorch sees a layer's weight: a matrix of {@link #rows()} output neurons
 * (or filters) by {@link #cols()} inputs per output, whatever the order the ONNX file stores it in.
 * Row-wise criteria (Wanda, N:M patterns, SparseGPT) work on that view; this class maps a (row,
 * column) of it to the flat index of the stored tensor.
 *
 * <ul>
 *   <li>{@code Conv}, weight {@code [out, in/groups, k...]}: rows are filters, columns are {@code
 *       weight.flatten(1)}'s, (input channel, kernel row, kernel column) with the last fastest, which
 *       is the order of {@code torch.nn.Unfold}'s im2col patch: column c reads patch element c.
 *   <li>Rows on axis 0, {@code [out, in]} (PyTorch's Linear): {@code Gemm} with {@code transB = 1},
 *       {@code MatMul} with a Transpose between weight and op (both {@link
 *       CriterionContext.Consumer#transposed()}), and a weight at input 0 without transposition
 *       ({@code W·X}).
 *   <li>Rows on the last axis, {@code [in, out]}: {@code Gemm} without transposition and {@code
 *       MatMul} at input 1 without Transpose ({@code X·W}), and a transposed weight at input 0.
 * </ul>
 *
 * <p>Input column c is channel c of the weight's {@link dev.lopper.calibration.InputStatistics}.
 *
 * <pre>{@code
 * WeightLayout layout = WeightLayout.of(tensor, context.consumer(tensor.name()).orElseThrow());
 * double[] rows = layout.toRows(tensor);          // [rows × cols], row-major, float64
 * int flat = layout.index(row, col);              // position in tensor.data()
 * }</pre>
 */
public final class WeightLayout {

  private final String tensor;
  private final long[] shape;
  private final int rows;
  private final int cols;
  private final boolean rowsOnLastAxis;

  private WeightLayout(String tensor, long[] shape, int rows, int cols, boolean rowsOnLastAxis) {
    this.tensor = tensor;
    this.shape = shape;
    this.rows = rows;
    this.cols = cols;
    this.rowsOnLastAxis = rowsOnLastAxis;
  }

  /**
   * The layout of {@code tensor} as {@code consumer} reads it.
   *
   * @throws InvalidInputException naming the tensor when the op is not Conv, Gemm or MatMul or the
   *     shape does not fit it (a Gemm or MatMul weight must be a matrix, a Conv weight of rank ≥ 3)
   */
  public static WeightLayout of(WeightTensor tensor, CriterionContext.Consumer consumer) {
    return of(tensor.name(), tensor.shape(), consumer);
  }

  /** {@link #of(WeightTensor, CriterionContext.Consumer)} from a tensor's name and shape. */
  public static WeightLayout of(String tensor, long[] shape, CriterionContext.Consumer consumer) {
    Objects.requireNonNull(tensor, "tensor");
    Objects.requireNonNull(consumer, "consumer");
    long[] s = shape.clone();
    long n = WeightTensor.elementCount(s);
    if (n > Integer.MAX_VALUE) {
      throw new InvalidInputException("tensor " + tensor + " " + Arrays.toString(s) + " has more than "
          + Integer.MAX_VALUE + " elements");
    }
    switch (consumer.opType()) {
      case "Conv" -> {
        if (s.length < 3 || consumer.inputIndex() != 1) {
          throw new InvalidInputException("tensor " + tensor + " " + Arrays.toString(s) + " is input "
              + consumer.inputIndex() + " of a Conv; a Conv weight is input 1 of shape [out, in/groups, k...]");
        }
        return new WeightLayout(tensor, s, (int) s[0], (int) (n / Math.max(1, s[0])), false);
      }
      case "Gemm", "MatMul" -> {
        if (s.length != 2) {
          throw new InvalidInputException("tensor " + tensor + " " + Arrays.toString(s) + " feeds a "
              + consumer.opType() + " but is not a matrix; row-wise criteria need a 2-D weight");
        }
        // X·W (input 1) computes from W's columns unless transposed; W·X (input 0) from its rows.
        boolean lastAxis = (consumer.inputIndex() == 1) != consumer.transposed();
        return lastAxis
            ? new WeightLayout(tensor, s, (int) s[1], (int) s[0], true)
            : new WeightLayout(tensor, s, (int) s[0], (int) s[1], false);
      }
      default -> throw new InvalidInputException("tensor " + tensor + " feeds a " + consumer.opType()
          + "; row-wise criteria know the layouts of Conv, Gemm and MatMul weights");
    }
  }

  /** The tensor's name. */
  public String tensor() {
    return tensor;
  }

  /** The stored tensor's shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** Output neurons or filters. */
  public int rows() {
    return rows;
  }

  /** Inputs per output: a Linear's {@code in}, a Conv's {@code (in/groups)·kh·kw}. */
  public int cols() {
    return cols;
  }

  /** Whether the stored tensor is {@code [in, out]}: rows are its last axis. */
  public boolean rowsOnLastAxis() {
    return rowsOnLastAxis;
  }

  /** The flat index in the stored tensor of ({@code row}, {@code col}). */
  public int index(int row, int col) {
    return rowsOnLastAxis ? col * rows + row : row * cols + col;
  }

  /** The tensor's values as float64 rows: element {@code r·cols + c} is (r, c). */
  public double[] toRows(WeightTensor weight) {
    checkShape(weight);
    FloatBuffer data = weight.data();
    double[] out = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = data.get(index(r, c));
      }
    }
    return out;
  }

  /** A tensor named and shaped like the stored one holding {@code values} ([rows × cols]) cast to float32. */
  public WeightTensor fromRows(double[] values) {
    if (values.length != rows * cols) {
      throw new IllegalArgumentException("tensor " + tensor + ": " + values.length + " values for "
          + rows + " × " + cols);
    }
    FloatBuffer out = WeightTensor.allocate(values.length);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out.put(index(r, c), (float) values[r * cols + c]);
      }
    }
    return new WeightTensor(tensor, shape, out);
  }

  private void checkShape(WeightTensor weight) {
    if (!Arrays.equals(weight.shape(), shape)) {
      throw new IllegalArgumentException("layout of tensor " + tensor + " " + Arrays.toString(shape)
          + " applied to tensor " + weight.name() + " " + Arrays.toString(weight.shape()));
    }
  }

  @Override
  public String toString() {
    return "WeightLayout[" + tensor + " " + Arrays.toString(shape) + " as " + rows + " rows × " + cols
        + " cols" + (rowsOnLastAxis ? ", rows on the last axis" : "") + "]";
  }
}
