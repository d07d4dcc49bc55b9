package dev.lopper.criteria;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.Safetensors;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;

/**
 * data/reference/pruning-unit.safetensors, written by data/make_pruning_unit_references.py from
 * data/pruning_reference.py: seeded cases (weights, integer activations) and what the Python ports
 * of Wanda, magnitude N:M, SparseGPT and OWL make of them. Masks there are U8 [rows, cols], 1 =
 * pruned.
 */
final class PruningReference {

  static final String FILE = "reference/pruning-unit.safetensors";

  private static PruningReference loaded;

  private final Safetensors.File file;

  private PruningReference(Safetensors.File file) {
    this.file = file;
  }

  static synchronized PruningReference load() {
    if (loaded == null) {
      loaded = new PruningReference(Safetensors.open(SampleData.path(FILE), new Configuration()));
    }
    return loaded;
  }

  /** Tensor names matching {@code regex}, sorted. */
  List<String> names(String regex) {
    Pattern p = Pattern.compile(regex);
    return new ArrayList<>(new TreeSet<>(file.entries().keySet().stream().filter(n -> p.matcher(n).matches()).toList()));
  }

  long[] shape(String name) {
    return file.entries().get(name).shape();
  }

  double[] f64(String name) {
    Safetensors.Entry e = entry(name, "F64");
    ByteBuffer raw = file.readBytes(e);
    double[] out = new double[(int) e.elementCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = raw.getDouble(i * 8);
    }
    return out;
  }

  float[] f32(String name) {
    Safetensors.Entry e = entry(name, "F32");
    ByteBuffer raw = file.readBytes(e);
    float[] out = new float[(int) e.elementCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = raw.getFloat(i * 4);
    }
    return out;
  }

  /** A U8 mask of [rows, cols] (1 = pruned) as row-view positions r·cols + c. */
  BitSet pruned(String name) {
    Safetensors.Entry e = entry(name, "U8");
    ByteBuffer raw = file.readBytes(e);
    BitSet out = new BitSet();
    for (int i = 0; i < e.elementCount(); i++) {
      if (raw.get(i) != 0) {
        out.set(i);
      }
    }
    return out;
  }

  private Safetensors.Entry entry(String name, String dtype) {
    Safetensors.Entry e = file.entries().get(name);
    if (e == null || !e.dtype().equals(dtype)) {
      throw new IllegalArgumentException(FILE + ": no " + dtype + " tensor " + name);
    }
    return e;
  }

  /** One case: the weight as rows, its activations, and their exact statistics. */
  Case reference(String name) {
    long[] stored = shape(name + ".weight");
    float[] w = f32(name + ".weight");
    int rows = (int) stored[0];
    int cols = w.length / rows;
    Safetensors.Entry xe = entry(name + ".x", "I16");
    ByteBuffer raw = file.readBytes(xe);
    int samples = (int) xe.shape()[0];
    double[] x = new double[samples * cols];
    for (int i = 0; i < x.length; i++) {
      x[i] = raw.getShort(i * 2);
    }
    return new Case(name, stored, rows, cols, w, samples, x);
  }

  /**
   * A reference case.
   *
   * @param storedShape the weight's shape in the file: [rows, cols] for Linear cases, the Conv's own
   * @param weights the rows [rows × cols]
   * @param x the activations [samples × cols], small integers
   */
  record Case(String name, long[] storedShape, int rows, int cols, float[] weights, int samples, double[] x) {

    boolean isConv() {
      return storedShape.length > 2;
    }

    /**
     * Σx, Σx² and XᵀX of the activations: integers below 2^53, exact in any order, so equal to the
     * Python side's bit for bit.
     */
    InputStatistics statistics() {
      double[] sums = new double[cols];
      double[] squares = new double[cols];
      double[] gram = new double[cols * cols];
      for (int s = 0; s < samples; s++) {
        for (int i = 0; i < cols; i++) {
          double xi = x[s * cols + i];
          sums[i] += xi;
          squares[i] += xi * xi;
          for (int j = 0; j < cols; j++) {
            gram[i * cols + j] += xi * x[s * cols + j];
          }
        }
      }
      return new InputStatistics(cols, samples, sums, squares, gram);
    }

    /** The ways this case is stored and consumed: Conv as it is; Linear as [out, in] and [in, out]. */
    List<Stored> layouts() {
      if (isConv()) {
        return List.of(new Stored(this, "conv", storedShape, new CriterionContext.Consumer("Conv", 1, false)));
      }
      return List.of(
          new Stored(this, "out-in", new long[] {rows, cols}, new CriterionContext.Consumer("Gemm", 1, true)),
          new Stored(this, "in-out", new long[] {cols, rows}, new CriterionContext.Consumer("MatMul", 1, false)));
    }
  }

  /** A case stored one way: the tensor, and the mapping of row-view positions by plain transposition. */
  record Stored(Case reference, String label, long[] shape, CriterionContext.Consumer consumer) {

    String tensorName() {
      return reference.name() + "." + label;
    }

    private boolean transposed() {
      return label.equals("in-out");
    }

    /** Flat index in this tensor of row-view position (r, c). */
    int flat(int r, int c) {
      return transposed() ? c * reference.rows() + r : r * reference.cols() + c;
    }

    WeightTensor tensor() {
      return tensor(reference.weights());
    }

    /** A tensor of this layout holding {@code rowValues} [rows × cols]. */
    WeightTensor tensor(float[] rowValues) {
      float[] values = new float[rowValues.length];
      for (int r = 0; r < reference.rows(); r++) {
        for (int c = 0; c < reference.cols(); c++) {
          values[flat(r, c)] = rowValues[r * reference.cols() + c];
        }
      }
      return WeightTensor.of(tensorName(), shape, values);
    }

    /** Row-view positions as flat indices of this tensor. */
    BitSet toStored(BitSet rowView) {
      BitSet out = new BitSet();
      int cols = reference.cols();
      for (int i = rowView.nextSetBit(0); i >= 0; i = rowView.nextSetBit(i + 1)) {
        out.set(flat(i / cols, i % cols));
      }
      return out;
    }

    /** This tensor's values as rows [rows × cols]. */
    double[] toRows(WeightTensor t) {
      float[] v = t.toArray();
      double[] out = new double[v.length];
      for (int r = 0; r < reference.rows(); r++) {
        for (int c = 0; c < reference.cols(); c++) {
          out[r * reference.cols() + c] = v[flat(r, c)];
        }
      }
      return out;
    }

    /** A context with this tensor's consumer, its statistics and {@code pattern}. */
    CriterionContext context(SparsityPattern pattern) {
      return CriterionContext.builder()
          .optConsumer(tensorName(), consumer)
          .optInputStatistics(tensorName(), reference.statistics())
          .optPattern(pattern)
          .build();
    }
  }

  /** A variant name's sparsity and pattern: {@code s0.5} or {@code nm2:4}. */
  record Variant(double sparsity, SparsityPattern pattern) {
    private static final Pattern NM = Pattern.compile("nm(\\d+):(\\d+)");

    static Variant parse(String text) {
      Matcher m = NM.matcher(text);
      if (m.matches()) {
        SparsityPattern p = new SparsityPattern(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
        return new Variant(p.sparsity(), p);
      }
      if (text.startsWith("s")) {
        return new Variant(Double.parseDouble(text.substring(1)), SparsityPattern.UNSTRUCTURED);
      }
      throw new IllegalArgumentException("variant " + text);
    }
  }

  /** Metadata of the file. */
  Map<String, String> metadata() {
    return file.metadata();
  }
}
