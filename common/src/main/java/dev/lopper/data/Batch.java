package dev.lopper.data;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;

/**
 * A batch of validation rows: one or more named input tensors (each {@code [rows, ...]}, in
 * contiguous off-heap memory), and what the rows are scored against — an integer class label per
 * row, or, for rows that are token sequences, a target token per position.
 *
 * <p>Two kinds, made by the two builders:
 * <ul>
 *   <li>feature rows ({@link BatchBuilder}): one float input of shape {@code [rows(),
 *       ...rowShape()]}, read through {@link #features()}, and optional labels;
 *   <li>sequences ({@link SequenceBatchBuilder}): one input per model input (token ids, attention
 *       mask, token type ids), each {@code [rows(), positions()]}, with a target per position
 *       ({@link #target}, {@value #NO_TARGET} for none) and which positions hold tokens
 *       ({@link #counts}) rather than padding.
 * </ul>
 *
 * <p>Why Arrow: the inputs live in Arrow vectors allocated from a caller's {@code
 * BufferAllocator}. The same memory can then be handed without copies to ONNX Runtime (a direct
 * buffer view), to Spark's Arrow-based data paths and to ND4J, and the allocator accounts for and
 * limits the off-heap memory every task uses.
 *
 * <p>Closing the batch frees its memory; using it afterwards throws {@link IllegalStateException}.
 * Not thread-safe for close, but concurrent reads are fine.
 */
public final class Batch implements AutoCloseable {
  /** The target of a position that predicts nothing, as in Hugging Face's labels. */
  public static final long NO_TARGET = -100;

  private final List<BatchInput> inputs;
  private final IntVector labels;
  private final long[] rowShape;
  private final int rowSize;
  private final int rows;
  private final String labelColumn;
  private final long firstRow;
  private final int positions;
  private final long[] targets;
  private final boolean[] valid;
  private volatile boolean closed;

  /** A batch of feature rows (made by {@link BatchBuilder}). */
  Batch(Float4Vector features, IntVector labels, long[] rowShape, int rowSize, int rows,
      String labelColumn, long firstRow) {
    long[] shape = new long[rowShape.length + 1];
    shape[0] = rows;
    System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
    this.inputs = List.of(new BatchInput(features.getName(), BatchInput.ElementType.FLOAT, shape, features));
    this.labels = labels;
    this.rowShape = rowShape.clone();
    this.rowSize = rowSize;
    this.rows = rows;
    this.labelColumn = labelColumn;
    this.firstRow = firstRow;
    this.positions = 0;
    this.targets = null;
    this.valid = null;
  }

  /** A batch of sequences (made by {@link SequenceBatchBuilder}). */
  Batch(List<BatchInput> inputs, int rows, int positions, long[] targets, boolean[] valid,
      String targetColumn, long firstRow) {
    this.inputs = List.copyOf(inputs);
    this.labels = null;
    this.rowShape = new long[] {positions};
    this.rowSize = positions;
    this.rows = rows;
    this.labelColumn = targetColumn;
    this.firstRow = firstRow;
    this.positions = positions;
    this.targets = targets;
    this.valid = valid;
  }

  /** Number of rows. */
  public int rows() {
    return rows;
  }

  /** The batch's inputs, in the order they were declared. */
  public List<BatchInput> inputs() {
    checkOpen();
    return inputs;
  }

  /** The shape of one row of the first input, for example {@code [64]} or {@code [1, 8, 8]}. */
  public long[] rowShape() {
    return rowShape.clone();
  }

  /** The shape of the first input: {@code [rows(), ...rowShape()]}. */
  public long[] shape() {
    return inputs.get(0).shape();
  }

  /** Number of values in one row of the first input, the product of {@link #rowShape()}. */
  public int rowSize() {
    return rowSize;
  }

  /**
   * A view of all features of a feature-row batch: a direct, native-order buffer of {@code rows()
   * * rowSize()} floats sharing the batch's memory (no copy), positioned at 0. Valid only while the
   * batch is open.
   *
   * @throws IllegalStateException for a batch whose first input is not float
   */
  public FloatBuffer features() {
    checkOpen();
    if (inputs.get(0).type() != BatchInput.ElementType.FLOAT) {
      throw new IllegalStateException("batch input " + inputs.get(0) + " does not hold float features");
    }
    return (FloatBuffer) inputs.get(0).buffer();
  }

  /** Whether every row carries a class label. */
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
    return (Float4Vector) inputs.get(0).vector();
  }

  /** The labels as the Arrow vector that holds them, or null for a label-free batch. */
  public IntVector labelVector() {
    checkOpen();
    return labels;
  }

  /** Name of the column the labels (or targets) came from, for messages. */
  public String labelColumn() {
    return labelColumn;
  }

  /** Positions per row of a batch of sequences (its inputs' second dimension); 0 for feature rows. */
  public int positions() {
    return positions;
  }

  /** Whether the rows are sequences with a target token per position. */
  public boolean hasTargets() {
    return targets != null;
  }

  /**
   * The token position {@code position} of row {@code row} must predict, or {@value #NO_TARGET}
   * when it predicts nothing (the last token, padding, a target column's -100).
   */
  public long target(int row, int position) {
    if (targets == null) {
      throw new IllegalStateException("batch has no targets");
    }
    return targets[row * positions + position];
  }

  /**
   * Whether position {@code position} of row {@code row} holds a token (its attention mask is 1)
   * rather than padding. Always true for feature rows.
   */
  public boolean counts(int row, int position) {
    return valid == null || valid[row * positions + position];
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
      inputs.forEach(BatchInput::close);
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
    if (positions > 0) {
      return "Batch[" + rows + " sequences of " + positions + " positions, inputs " + inputs
          + ", from row " + firstRow + "]";
    }
    return "Batch[" + rows + " rows of " + Arrays.toString(rowShape)
        + (labels != null ? ", labelled" : ", no labels") + ", from row " + firstRow + "]";
  }
}
