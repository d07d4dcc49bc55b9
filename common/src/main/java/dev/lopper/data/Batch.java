package dev.lopper.data;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;

/**
 * A batch of validation rows: the features of every row in one contiguous off-heap buffer, an
 * optional integer label per row, and the shape of one row.
 *
 * <p>Row {@code r}'s features are the floats {@code [r * rowSize(), (r + 1) * rowSize())} of
 * {@link #features()}, row-major in {@link #rowShape()}, so the whole buffer is the tensor
 * {@code [rows(), ...rowShape()]} that ONNX Runtime reads in place.
 *
 * <p>Why Arrow: the features live in an Arrow {@link Float4Vector} (and labels in an
 * {@link IntVector}) allocated from a caller's {@code BufferAllocator}. The same memory can then be
 * handed without copies to ONNX Runtime (a direct {@link FloatBuffer} view), to Spark's Arrow-based
 * data paths (Arrow is Spark's columnar exchange format, {@code ArrowColumnVector}) and to ND4J
 * (which wraps a memory address), and the allocator accounts for and limits the off-heap memory
 * every task uses.
 *
 * <p>Built only by {@link BatchBuilder}. Closing the batch frees its memory; using it afterwards
 * throws {@link IllegalStateException}. Not thread-safe for close, but concurrent reads are fine.
 */
public final class Batch implements AutoCloseable {
  private final Float4Vector features;
  private final IntVector labels;
  private final long[] rowShape;
  private final int rowSize;
  private final int rows;
  private final String labelColumn;
  private final long firstRow;
  private volatile boolean closed;

  Batch(Float4Vector features, IntVector labels, long[] rowShape, int rowSize, int rows,
      String labelColumn, long firstRow) {
    this.features = features;
    this.labels = labels;
    this.rowShape = rowShape.clone();
    this.rowSize = rowSize;
    this.rows = rows;
    this.labelColumn = labelColumn;
    this.firstRow = firstRow;
  }

  /** Number of rows. */
  public int rows() {
    return rows;
  }

  /** The shape of one row, for example {@code [64]} or {@code [1, 8, 8]}. */
  public long[] rowShape() {
    return rowShape.clone();
  }

  /** The shape of the whole features tensor: {@code [rows(), ...rowShape()]}. */
  public long[] shape() {
    long[] shape = new long[rowShape.length + 1];
    shape[0] = rows;
    System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
    return shape;
  }

  /** Number of floats in one row, the product of {@link #rowShape()}. */
  public int rowSize() {
    return rowSize;
  }

  /**
   * A view of all features: a direct, native-order buffer of {@code rows() * rowSize()} floats
   * sharing the batch's memory (no copy), positioned at 0. Valid only while the batch is open.
   */
  public FloatBuffer features() {
    checkOpen();
    return features.getDataBuffer()
        .nioBuffer(0, Math.multiplyExact(rows * rowSize, Float.BYTES))
        .order(ByteOrder.nativeOrder())
        .asFloatBuffer();
  }

  /** Whether every row carries a label. */
  public boolean hasLabels() {
    return labels != null;
  }

  /** The label of row {@code row} (0-based within the batch). */
  public int label(int row) {
    checkOpen();
    if (labels == null) {
      throw new IllegalStateException("batch has no labels");
    }
    if (row < 0 || row >= rows) {
      throw new IndexOutOfBoundsException("row " + row + " of a batch of " + rows);
    }
    return labels.get(row);
  }

  /** The features as the Arrow vector that holds them (for Arrow consumers); owned by the batch. */
  public Float4Vector featureVector() {
    checkOpen();
    return features;
  }

  /** The labels as the Arrow vector that holds them, or null for a label-free batch. */
  public IntVector labelVector() {
    checkOpen();
    return labels;
  }

  /** Name of the label column the labels came from, for messages. */
  public String labelColumn() {
    return labelColumn;
  }

  /**
   * Number of the batch's first row in its source (a file or partition), counted from 0, so that
   * messages about row {@code r} of the batch can name row {@code firstRow() + r} of the source.
   */
  public long firstRow() {
    return firstRow;
  }

  /** Frees the batch's off-heap memory. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      features.close();
      if (labels != null) {
        labels.close();
      }
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("batch is closed");
    }
  }

  @Override
  public String toString() {
    return "Batch[" + rows + " rows of " + Arrays.toString(rowShape)
        + (labels != null ? ", labelled" : ", no labels") + ", from row " + firstRow + "]";
  }
}
