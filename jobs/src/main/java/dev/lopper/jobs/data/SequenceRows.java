package dev.lopper.jobs.data;

import dev.lopper.data.Batch;
import dev.lopper.data.SequenceBatchBuilder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * One data partition's token sequences, decoded once: for each model input the values of every row
 * back to back in one {@code long[]}, row {@code r} at {@code [offsets[r], offsets[r + 1])}, and
 * the target tokens laid out the same way (null when targets are the shifted input ids).
 *
 * @param partition the data partition's index
 * @param rows number of rows kept
 * @param offsets {@code rows + 1} offsets into the value arrays
 * @param values one array per model input, in {@link SequenceSpec#inputs()} order
 * @param targets the targets, or null
 * @param checks what decoding counted in this partition's rows
 */
public record SequenceRows(int partition, int rows, int[] offsets, long[][] values, long[] targets,
    SequenceChecks checks) implements PartitionData {

  @Override
  public SequenceRows slice(int from, int to) {
    if (from < 0 || to > rows || from > to) {
      throw new IllegalArgumentException("rows " + from + " to " + to + " of a partition of " + rows);
    }
    int[] o = new int[to - from + 1];
    for (int r = from; r <= to; r++) {
      o[r - from] = offsets[r] - offsets[from];
    }
    long[][] v = new long[values.length][];
    for (int i = 0; i < v.length; i++) {
      v[i] = Arrays.copyOfRange(values[i], offsets[from], offsets[to]);
    }
    long[] t = targets == null ? null : Arrays.copyOfRange(targets, offsets[from], offsets[to]);
    return new SequenceRows(partition, to - from, o, v, t, SequenceChecks.NONE);
  }

  @Override
  public SequenceRows append(PartitionData next, int partition) {
    SequenceRows other = (SequenceRows) next;
    if (other.values.length != values.length || (other.targets == null) != (targets == null)) {
      throw new IllegalArgumentException("appending sequences of " + other.values.length + " inputs to "
          + values.length);
    }
    int size = offsets[rows];
    int[] o = Arrays.copyOf(offsets, rows + other.rows + 1);
    for (int r = 1; r <= other.rows; r++) {
      o[rows + r] = size + other.offsets[r];
    }
    long[][] v = new long[values.length][];
    for (int i = 0; i < v.length; i++) {
      v[i] = concat(values[i], size, other.values[i], other.offsets[other.rows]);
    }
    long[] t = targets == null ? null : concat(targets, size, other.targets, other.offsets[other.rows]);
    return new SequenceRows(partition, rows + other.rows, o, v, t, SequenceChecks.NONE);
  }

  private static long[] concat(long[] a, int aSize, long[] b, int bSize) {
    long[] out = Arrays.copyOf(a, aSize + bSize);
    System.arraycopy(b, 0, out, aSize, bSize);
    return out;
  }

  @Override
  public List<Batch> batches(int from, int to, ValidationData.Spec spec, int batchSize, BufferAllocator allocator) {
    if (from < 0 || to > rows || from > to) {
      throw new IllegalArgumentException("rows " + from + " to " + to + " of a partition of " + rows);
    }
    SequenceSpec sequences = spec.sequences();
    List<Batch> batches = new ArrayList<>();
    try (SequenceBatchBuilder builder = new SequenceBatchBuilder(sequences.builderInputs(), sequences.tokens(),
        sequences.mask(), batchSize, allocator)) {
      builder.startAtRow(from).padTo(sequences.mask() != null ? sequences.length() : 0);
      if (sequences.targets() != null) {
        builder.targetColumn(sequences.targets());
      }
      try {
        for (int r = from; r < to; r++) {
          int length = offsets[r + 1] - offsets[r];
          // Without an attention mask to pad with, a batch holds rows of one length only.
          if (builder.rows() > 0 && (builder.isFull() || (sequences.mask() == null && builder.length() != length))) {
            batches.add(builder.build());
          }
          long[][] row = new long[values.length][];
          for (int i = 0; i < values.length; i++) {
            row[i] = Arrays.copyOfRange(values[i], offsets[r], offsets[r + 1]);
          }
          builder.add(row, targets == null ? null : Arrays.copyOfRange(targets, offsets[r], offsets[r + 1]));
        }
        if (builder.rows() > 0) {
          batches.add(builder.build());
        }
      } catch (RuntimeException e) {
        batches.forEach(Batch::close);
        throw e;
      }
    }
    return batches;
  }
}
