package dev.lopper.calibration;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import java.io.Serial;
import java.io.Serializable;
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The calibration statistics of one chunk of rows: an {@link InputStatistics} per consumer input
 * ({@link ConsumerInput#key()}), computed from the values {@code ActivationCapture} captured for the
 * chunk's batch. Immutable and serializable; {@link #plus} adds two chunks' statistics key by key,
 * and {@link TreeSum} fixes the order in which chunks are added.
 *
 * <p>Samples: every row of a feature batch; for a batch of token sequences only the positions that
 * {@link Batch#counts} (padding left out); for a Conv input its im2col patches. Σx and Σx² are
 * summed in sample order in float64; the Gram matrix XᵀX is computed as {@link GramOptions} says,
 * from blocks of {@value #BLOCK_SAMPLES} samples in order (so its bits depend only on the samples,
 * the engine and, for BLAS, OpenBLAS's kernel).
 *
 * <pre>{@code
 * ChunkStatistics chunk = ChunkStatistics.compute(batch, capture.run(batch), inputs.inputs(), GramOptions.defaults());
 * }</pre>
 */
public final class ChunkStatistics implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Samples per block: the Gram matrix is accumulated block by block, each block's samples
   * converted to float64 once (8 MiB of them at 1024 channels).
   */
  static final int BLOCK_SAMPLES = 1024;

  private final SortedMap<String, InputStatistics> byKey;

  private ChunkStatistics(SortedMap<String, InputStatistics> byKey) {
    this.byKey = Collections.unmodifiableSortedMap(byKey);
  }

  /** Statistics from given values, by consumer input key. */
  public static ChunkStatistics of(Map<String, InputStatistics> byKey) {
    return new ChunkStatistics(new TreeMap<>(byKey));
  }

  /**
   * The statistics of {@code inputs} over {@code batch}, whose run captured {@code values} (by value
   * name).
   *
   * @throws InvalidInputException when an input's value was not captured, or does not fit the
   *     input or the batch (see {@link #of(ConsumerInput, Batch, CapturedValue, GramOptions)})
   */
  public static ChunkStatistics compute(Batch batch, Map<String, CapturedValue> values,
      Collection<ConsumerInput> inputs, GramOptions gram) {
    SortedMap<String, InputStatistics> out = new TreeMap<>();
    for (ConsumerInput input : inputs) {
      CapturedValue value = values.get(input.value());
      if (value == null) {
        throw new InvalidInputException("value " + input.value() + " (for " + input.key() + ") was not"
            + " captured; captured values are " + values.keySet());
      }
      out.put(input.key(), of(input, batch, value, gram));
    }
    return new ChunkStatistics(out);
  }

  /**
   * The statistics of one consumer input over {@code batch}, whose run gave {@code value}.
   *
   * @throws InvalidInputException when the value's shape does not fit the input or the batch, or
   *     the batch has padding positions the value's samples cannot be matched with
   */
  public static InputStatistics of(ConsumerInput input, Batch batch, CapturedValue value, GramOptions gram) {
    return statistics(Samples.of(input, batch, value), gram);
  }

  /** Σx, Σx² and, when {@code gram} asks, XᵀX of the samples. */
  static InputStatistics statistics(Samples samples, GramOptions gram) {
    int n = samples.count();
    int d = samples.dim();
    if (n == 0) {
      return InputStatistics.empty(d, gram.withGram());
    }
    double[] sums = new double[d];
    double[] squares = new double[d];
    int block = Math.min(n, BLOCK_SAMPLES);
    double[] x = new double[Math.multiplyExact(block, d)];
    double[] g = gram.withGram() && !gram.usesBlas(d) ? new double[Math.multiplyExact(d, d)] : null;
    if (gram.withGram() && gram.usesBlas(d)) {
      gram.applyThreads();
    }
    try (Gram.Blas blas = gram.withGram() && gram.usesBlas(d) ? new Gram.Blas(d, block) : null) {
      for (int first = 0; first < n; first += block) {
        int rows = Math.min(block, n - first);
        samples.fill(first, rows, x);
        for (int k = 0; k < rows; k++) {
          int o = k * d;
          for (int j = 0; j < d; j++) {
            double v = x[o + j];
            sums[j] += v;
            squares[j] += v * v;
          }
        }
        if (blas != null) {
          blas.accumulate(x, rows);
        } else if (g != null) {
          Gram.accumulateJava(g, x, rows, d);
        }
      }
      if (blas != null) {
        g = blas.upper();
      }
    }
    if (g != null) {
      Gram.mirror(g, d);
    }
    return new InputStatistics(d, n, sums, squares, g);
  }

  /** The statistics by consumer input key, sorted by key. */
  public SortedMap<String, InputStatistics> byKey() {
    return byKey;
  }

  /** The statistics of consumer input key {@code key}, or null. */
  public InputStatistics get(String key) {
    return byKey.get(key);
  }

  /**
   * This plus {@code other}, key by key ({@link InputStatistics#plus}: this first).
   *
   * @throws IllegalArgumentException when the two hold different keys
   */
  public ChunkStatistics plus(ChunkStatistics other) {
    if (!byKey.keySet().equals(other.byKey.keySet())) {
      throw new IllegalArgumentException("adding statistics of " + other.byKey.keySet() + " to statistics of "
          + byKey.keySet());
    }
    SortedMap<String, InputStatistics> out = new TreeMap<>();
    for (Map.Entry<String, InputStatistics> e : byKey.entrySet()) {
      out.put(e.getKey(), e.getValue().plus(other.byKey.get(e.getKey())));
    }
    return new ChunkStatistics(out);
  }

  /** Bitwise equality of every sum. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ChunkStatistics c && byKey.equals(c.byKey);
  }

  @Override
  public int hashCode() {
    return byKey.hashCode();
  }

  @Override
  public String toString() {
    return "ChunkStatistics" + byKey.values();
  }
}
