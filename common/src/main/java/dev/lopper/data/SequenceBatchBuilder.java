package dev.lopper.data;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;

/**
 * Turns token sequences into {@link Batch}es: the one place where rows of token ids (and attention
 * masks, token type ids) become batches, as {@link BatchBuilder} is for feature rows.
 *
 * <p>Each row gives one list of integers per model input, all of one length (the row's number of
 * positions), and optionally its targets, one per position ({@link Batch#NO_TARGET} for none);
 * without a target list, position t's target is the row's token t + 1 of the
 * {@code tokens} input and the last position predicts nothing — the causal language model's
 * shift. A batch is as long as its longest row: shorter rows are padded at the end with zeros
 * (attention mask 0, token 0) and targets {@link Batch#NO_TARGET}, which only a model with an
 * attention mask input can take — without one, rows of different lengths are refused, and the
 * caller batches rows of one length together.
 *
 * <pre>{@code
 * try (SequenceBatchBuilder builder = new SequenceBatchBuilder(
 *     List.of(new Input("input_ids", INT64), new Input("attention_mask", INT64)),
 *     "input_ids", "attention_mask", 32, allocator)) {
 *   builder.add(new long[][] {ids, mask}, null);
 *   try (Batch batch = builder.build()) { ... }
 * }
 * }</pre>
 *
 * Not thread-safe.
 */
public final class SequenceBatchBuilder implements AutoCloseable {

  /**
   * One model input the rows feed.
   *
   * @param name the model input's name
   * @param type its element type, {@link BatchInput.ElementType#INT64} or {@code INT32}
   */
  public record Input(String name, BatchInput.ElementType type) {
    public Input {
      Objects.requireNonNull(name, "name");
      if (type == BatchInput.ElementType.FLOAT) {
        throw new IllegalArgumentException("sequence input " + name + " must be an integer type");
      }
    }
  }

  private final List<Input> inputs;
  private final int tokensInput;
  private final int maskInput;
  private final int capacity;
  private final BufferAllocator allocator;
  private String targetColumn;
  private final List<long[][]> rows = new ArrayList<>();
  private final List<long[]> rowTargets = new ArrayList<>();
  private long nextRow;
  private long batchFirstRow;
  private int padTo;

  /**
   * A builder of batches of up to {@code capacity} rows.
   *
   * @param inputs the model inputs, in the order each row's lists are given
   * @param tokens the input whose tokens, shifted by one, are the targets of rows without any
   * @param mask the attention mask input, or null when the model has none
   * @param capacity the most rows a batch holds
   * @param allocator where the batches' memory comes from
   */
  public SequenceBatchBuilder(List<Input> inputs, String tokens, String mask, int capacity,
      BufferAllocator allocator) {
    this.inputs = List.copyOf(inputs);
    this.tokensInput = indexOf(tokens);
    this.maskInput = mask == null ? -1 : indexOf(mask);
    if (tokensInput < 0 || (mask != null && maskInput < 0)) {
      throw new IllegalArgumentException("tokens " + tokens + " and mask " + mask + " must be among "
          + inputs);
    }
    if (capacity <= 0) {
      throw new IllegalArgumentException("capacity must be positive, got " + capacity);
    }
    this.capacity = capacity;
    this.allocator = Objects.requireNonNull(allocator, "allocator");
    this.targetColumn = inputs.get(tokensInput).name();
  }

  private int indexOf(String name) {
    for (int i = 0; i < inputs.size(); i++) {
      if (inputs.get(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }

  /** Names the column targets come from, in messages (default: the tokens input). */
  public SequenceBatchBuilder targetColumn(String column) {
    this.targetColumn = Objects.requireNonNull(column, "column");
    return this;
  }

  /**
   * Pads every batch to {@code positions} (a model input's fixed length) rather than to its longest
   * row; rows must not be longer.
   */
  public SequenceBatchBuilder padTo(int positions) {
    this.padTo = positions;
    return this;
  }

  /** Sets the number (from 0) the next added row has in its source; rows are numbered on from it. */
  public SequenceBatchBuilder startAtRow(long row) {
    if (row < 0) {
      throw new IllegalArgumentException("row number must not be negative, got " + row);
    }
    this.nextRow = row;
    return this;
  }

  /**
   * Adds a row: {@code values[i]} is input i's list; {@code targets} its positions' targets, or
   * null for the shifted tokens. The arrays are kept until {@link #build()}, not copied.
   *
   * @throws InvalidInputException when the lists have different lengths, or, for a model without
   *     an attention mask, the row's length differs from the batch's
   */
  public SequenceBatchBuilder add(long[][] values, long[] targets) {
    if (values.length != inputs.size()) {
      throw new IllegalArgumentException("a row needs " + inputs.size() + " lists, got " + values.length);
    }
    if (rows.size() == capacity) {
      throw new IllegalStateException("batch is full (" + capacity + " rows); build it first");
    }
    int length = values[0].length;
    for (int i = 1; i < values.length; i++) {
      if (values[i].length != length) {
        throw new InvalidInputException("row " + nextRow + ": " + inputs.get(0).name() + " has " + length
            + " values but " + inputs.get(i).name() + " has " + values[i].length);
      }
    }
    if (targets != null && targets.length != length) {
      throw new InvalidInputException("row " + nextRow + ": " + targetColumn + " has " + targets.length
          + " targets for " + length + " positions of " + inputs.get(tokensInput).name());
    }
    if (length == 0) {
      throw new InvalidInputException("row " + nextRow + ": " + inputs.get(0).name() + " is empty");
    }
    if (maskInput < 0 && !rows.isEmpty() && rows.get(0)[0].length != length) {
      throw new IllegalStateException("row " + nextRow + " has " + length + " positions, the batch "
          + rows.get(0)[0].length + ", and the model has no attention mask to pad with");
    }
    if (rows.isEmpty()) {
      batchFirstRow = nextRow;
    }
    rows.add(values);
    rowTargets.add(targets);
    nextRow++;
    return this;
  }

  /** Number of rows in the batch being built. */
  public int rows() {
    return rows.size();
  }

  /** Whether the batch being built holds {@code capacity} rows. */
  public boolean isFull() {
    return rows.size() == capacity;
  }

  /** Positions of the rows added so far (the first row's), or -1 when none was. */
  public int length() {
    return rows.isEmpty() ? -1 : rows.get(0)[0].length;
  }

  /**
   * Hands the rows added since the last build to a new {@link Batch} (which the caller closes),
   * padded to the longest, and starts an empty batch.
   */
  public Batch build() {
    if (rows.isEmpty()) {
      throw new IllegalStateException("no rows to build a batch of");
    }
    int n = rows.size();
    int positions = padTo;
    for (long[][] row : rows) {
      if (padTo > 0 && row[0].length > padTo) {
        throw new IllegalStateException("a row of " + row[0].length + " positions in batches of " + padTo);
      }
      positions = Math.max(positions, row[0].length);
    }
    int size = Math.multiplyExact(n, positions);
    long[] shape = {n, positions};
    List<BatchInput> built = new ArrayList<>(inputs.size());
    try {
      for (int i = 0; i < inputs.size(); i++) {
        built.add(vector(i, shape, size, positions));
      }
    } catch (RuntimeException e) {
      built.forEach(BatchInput::close);
      throw e;
    }
    long[] targets = new long[size];
    Arrays.fill(targets, Batch.NO_TARGET);
    boolean[] valid = new boolean[size];
    for (int r = 0; r < n; r++) {
      long[][] row = rows.get(r);
      long[] given = rowTargets.get(r);
      int length = row[0].length;
      for (int t = 0; t < length; t++) {
        valid[r * positions + t] = maskInput < 0 || row[maskInput][t] != 0;
      }
      if (given != null) {
        System.arraycopy(given, 0, targets, r * positions, length);
      } else {
        long[] tokens = row[tokensInput];
        for (int t = 0; t + 1 < length; t++) {
          // A padded or masked-out next position is nothing to predict.
          targets[r * positions + t] = maskInput < 0 || row[maskInput][t + 1] != 0 ? tokens[t + 1] : Batch.NO_TARGET;
        }
      }
      for (int t = 0; t < length; t++) {
        if (!valid[r * positions + t]) {
          targets[r * positions + t] = Batch.NO_TARGET;
        }
      }
    }
    Batch batch = new Batch(built, n, positions, targets, valid, targetColumn, batchFirstRow);
    rows.clear();
    rowTargets.clear();
    return batch;
  }

  private BatchInput vector(int input, long[] shape, int size, int positions) {
    Input spec = inputs.get(input);
    FieldVector vector = spec.type() == BatchInput.ElementType.INT64
        ? new BigIntVector(spec.name(), allocator) : new IntVector(spec.name(), allocator);
    try {
      vector.setInitialCapacity(size);
      vector.allocateNew();
      // Zeros first: padding is token 0, attention mask 0, token type 0.
      vector.getDataBuffer().setZero(0, (long) size * spec.type().bytes());
      for (int r = 0; r < rows.size(); r++) {
        long[] values = rows.get(r)[input];
        int base = r * positions;
        if (vector instanceof BigIntVector longs) {
          for (int t = 0; t < values.length; t++) {
            longs.set(base + t, values[t]);
          }
        } else {
          IntVector ints = (IntVector) vector;
          for (int t = 0; t < values.length; t++) {
            ints.set(base + t, (int) values[t]);
          }
        }
      }
      vector.getValidityBuffer().setOne(0L, (long) BitVectorHelper.getValidityBufferSize(size));
      vector.setValueCount(size);
      return new BatchInput(spec.name(), spec.type(), shape, vector);
    } catch (RuntimeException e) {
      vector.close();
      throw e;
    }
  }

  /** Drops rows added but not built. */
  @Override
  public void close() {
    rows.clear();
    rowTargets.clear();
  }
}
