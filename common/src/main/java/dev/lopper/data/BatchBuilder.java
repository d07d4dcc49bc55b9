package dev.lopper.data;

import dev.lopper.InvalidInputException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;

/**
 * Turns rows into {@link Batch}es: the one place where validation rows become batches.
 *
 * <p>Each added row is copied once, with one bulk copy, into a contiguous off-heap buffer sized for
 * {@code capacity} rows; {@link #build()} hands that buffer to a {@link Batch} and the builder
 * starts the next batch, numbering rows on from where the last batch ended. The caller (a Spark
 * task, or a test reading Parquet) decodes its rows into typed {@code float[]} and passes them in:
 *
 * <pre>{@code
 * try (BatchBuilder builder = new BatchBuilder(new long[] {1, 8, 8}, 256, true, allocator)
 *     .columns("pixels", "digit")) {
 *   for (...) {
 *     builder.add(features, label);
 *     if (builder.isFull()) {
 *       try (Batch batch = builder.build()) { ... }
 *     }
 *   }
 *   if (builder.rows() > 0) { try (Batch batch = builder.build()) { ... } }
 * }
 * }</pre>
 *
 * <p>A row whose number of values differs from the product of the row shape is refused with an
 * {@link InvalidInputException} naming the column and row. Not thread-safe.
 */
public final class BatchBuilder implements AutoCloseable {
  private final long[] rowShape;
  private final int rowSize;
  private final int capacity;
  private final boolean labelled;
  private final BufferAllocator allocator;
  private String featuresColumn = "features";
  private String labelColumn = "label";
  private long nextRow;

  private Float4Vector features;
  private IntVector labels;
  private FloatBuffer view;
  private int rows;
  private long batchFirstRow;

  /**
   * A builder of batches of up to {@code capacity} rows.
   *
   * @param rowShape the shape of one row, every dimension positive (e.g. {@code [64]} or
   *     {@code [1, 8, 8]})
   * @param capacity the most rows a batch holds
   * @param labelled whether every row carries an integer label
   * @param allocator where the batches' memory comes from; the caller closes it after the batches
   */
  public BatchBuilder(long[] rowShape, int capacity, boolean labelled, BufferAllocator allocator) {
    this.rowShape = rowShape.clone();
    long size = 1;
    for (long d : rowShape) {
      if (d <= 0) {
        throw new IllegalArgumentException("row shape " + Arrays.toString(rowShape)
            + " has a dimension that is not positive");
      }
      size = Math.multiplyExact(size, d);
    }
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive, got " + capacity);
    }
    if (size * capacity > Integer.MAX_VALUE / Float.BYTES) {
      throw new IllegalArgumentException("a batch of " + capacity + " rows of shape "
          + Arrays.toString(rowShape) + " exceeds 2 GiB; use a smaller batch size");
    }
    this.rowSize = (int) size;
    this.capacity = capacity;
    this.labelled = labelled;
    this.allocator = Objects.requireNonNull(allocator, "allocator");
  }

  /**
   * Names the features and label columns in messages (defaults {@code features} and
   * {@code label}).
   */
  public BatchBuilder columns(String featuresColumn, String labelColumn) {
    this.featuresColumn = Objects.requireNonNull(featuresColumn, "featuresColumn");
    this.labelColumn = Objects.requireNonNull(labelColumn, "labelColumn");
    return this;
  }

  /**
   * Sets the number (from 0) that the next added row has in its source, for messages and
   * {@link Batch#firstRow()}; rows are numbered on from it.
   */
  public BatchBuilder startAtRow(long row) {
    if (row < 0) {
      throw new IllegalArgumentException("row number must not be negative, got " + row);
    }
    this.nextRow = row;
    return this;
  }

  /** Adds a labelled row whose values are all of {@code features}. */
  public BatchBuilder add(float[] features, int label) {
    if (features.length != rowSize) {
      throw new InvalidInputException(featuresColumn + " row " + nextRow + " has "
          + features.length + " values; input shape " + Arrays.toString(rowShape) + " needs "
          + rowSize);
    }
    return put(features, 0, label, true);
  }

  /**
   * Adds a labelled row made of the {@code product(rowShape)} values of {@code values} starting at
   * {@code offset} (a row inside a larger array, such as a flat matrix of rows).
   */
  public BatchBuilder add(float[] values, int offset, int label) {
    checkOffset(values, offset);
    return put(values, offset, label, true);
  }

  /**
   * Adds a row without a label made of the {@code product(rowShape)} values of {@code values}
   * starting at {@code offset} (for a builder made with {@code labelled == false}).
   */
  public BatchBuilder addUnlabelled(float[] values, int offset) {
    checkOffset(values, offset);
    return put(values, offset, 0, false);
  }

  private void checkOffset(float[] values, int offset) {
    if (offset < 0 || offset > values.length) {
      throw new IndexOutOfBoundsException("offset " + offset + " in an array of " + values.length);
    }
    if (values.length - offset < rowSize) {
      throw new InvalidInputException(featuresColumn + " row " + nextRow + " has only "
          + (values.length - offset) + " values from offset " + offset + "; input shape "
          + Arrays.toString(rowShape) + " needs " + rowSize);
    }
  }

  /** Adds a row without a label (for a builder made with {@code labelled == false}). */
  public BatchBuilder add(float[] features) {
    if (features.length != rowSize) {
      throw new InvalidInputException(featuresColumn + " row " + nextRow + " has "
          + features.length + " values; input shape " + Arrays.toString(rowShape) + " needs "
          + rowSize);
    }
    return put(features, 0, 0, false);
  }

  private BatchBuilder put(float[] values, int offset, int label, boolean withLabel) {
    if (withLabel != labelled) {
      throw new IllegalStateException(labelled
          ? "this builder makes labelled batches; pass the " + labelColumn + " of each row"
          : "this builder makes label-free batches; add rows without labels");
    }
    if (rows == capacity) {
      throw new IllegalStateException("batch is full (" + capacity + " rows); build it first");
    }
    if (features == null) {
      start();
    }
    view.put(rows * rowSize, values, offset, rowSize);
    if (labelled) {
      labels.set(rows, label);
    }
    rows++;
    nextRow++;
    return this;
  }

  private void start() {
    features = new Float4Vector(featuresColumn, allocator);
    try {
      features.allocateNew(capacity * rowSize);
      view = features.getDataBuffer()
          .nioBuffer(0, capacity * rowSize * Float.BYTES)
          .order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      if (labelled) {
        labels = new IntVector(labelColumn, allocator);
        labels.allocateNew(capacity);
      }
    } catch (RuntimeException e) {
      release();
      throw e;
    }
    batchFirstRow = nextRow;
  }

  /** Number of rows in the batch being built. */
  public int rows() {
    return rows;
  }

  /** Whether the batch being built holds {@code capacity} rows. */
  public boolean isFull() {
    return rows == capacity;
  }

  /**
   * Hands the rows added since the last build to a new {@link Batch} (which the caller closes) and
   * starts an empty batch.
   *
   * @throws IllegalStateException when no row was added
   */
  public Batch build() {
    if (rows == 0) {
      throw new IllegalStateException("no rows to build a batch of");
    }
    int count = rows * rowSize;
    // Every value is present: mark them valid in one fill instead of one bit per float.
    features.getValidityBuffer().setOne(0L, (long) BitVectorHelper.getValidityBufferSize(count));
    features.setValueCount(count);
    if (labels != null) {
      labels.setValueCount(rows);
    }
    Batch batch = new Batch(features, labels, rowShape, rowSize, rows, labelColumn, batchFirstRow);
    features = null;
    labels = null;
    view = null;
    rows = 0;
    return batch;
  }

  /** Frees the memory of rows added but not built. */
  @Override
  public void close() {
    release();
    rows = 0;
  }

  private void release() {
    if (features != null) {
      features.close();
      features = null;
    }
    if (labels != null) {
      labels.close();
      labels = null;
    }
    view = null;
  }
}
