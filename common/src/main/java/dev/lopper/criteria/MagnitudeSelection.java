package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.mask.Mask;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Selects the k smallest magnitudes of a group of tensors, viewed as one concatenated vector, for
 * several k at once, with ties broken by lower index: the pruned set for k is the first k
 * positions in the order (|w|, index).
 *
 * <p>A float's bits with the sign cleared, read as an int, order like |w| for finite values, so
 * the k-th smallest magnitude is found by a two-level radix selection on those keys: a histogram
 * of the high 15 bits locates the bucket holding the k-th key, a histogram of the low 16 bits
 * inside that bucket gives the key itself. That is two sequential passes without copying the
 * tensor (O(n), no sort), shared by every k of a grid; a third pass per k writes the mask: every
 * key below the threshold, then the first keys equal to it until k are pruned.
 */
final class MagnitudeSelection {

  /** Floats read per bulk copy out of a tensor's direct buffer; a multiple of 64. */
  private static final int CHUNK = 1 << 14;
  private static final int LOW_BITS = 16;
  private static final int HIGH_BUCKETS = 1 << (31 - LOW_BITS);
  private static final int LOW_BUCKETS = 1 << LOW_BITS;
  private static final int LOW_MASK = LOW_BUCKETS - 1;
  /** Keys at or above this are infinite or NaN. */
  private static final int NON_FINITE = 0x7f800000;

  private MagnitudeSelection() {}

  /**
   * Masks pruning round-half-even({@code sparsities[j]} × n) positions of the concatenation of
   * {@code tensors}: {@code result[j][t]} is the mask of tensor t for sparsity j.
   */
  static Mask[][] selectJointly(List<WeightTensor> tensors, double[] sparsities, String criterion) {
    long n = 0;
    for (WeightTensor tensor : tensors) {
      n += tensor.size();
    }
    int grid = sparsities.length;
    float[] buffer = new float[CHUNK];

    long[] high = new long[HIGH_BUCKETS];
    for (WeightTensor tensor : tensors) {
      countHigh(tensor, high, buffer, criterion);
    }

    // For each k: the bucket holding the k-th smallest key and k's rank inside that bucket.
    int[] threshold = new int[grid];
    long[] ties = new long[grid];
    int[] bucket = new int[grid];
    long[] rankInBucket = new long[grid];
    int[] slotOfBucket = new int[HIGH_BUCKETS];
    Arrays.fill(slotOfBucket, -1);
    int slots = 0;
    for (int j = 0; j < grid; j++) {
      // Python's round(amount * n): the float64 product rounded half to even.
      long k = (long) Math.rint(sparsities[j] * (double) n);
      bucket[j] = -1;
      if (k == 0) {
        threshold[j] = 0; // nothing is below 0, and no tie may be pruned
      } else if (k == n) {
        threshold[j] = NON_FINITE; // every finite key is below it
      } else {
        long below = 0;
        int b = 0;
        while (below + high[b] < k) {
          below += high[b++];
        }
        bucket[j] = b;
        rankInBucket[j] = k - below;
        if (slotOfBucket[b] < 0) {
          slotOfBucket[b] = slots++;
        }
      }
    }

    if (slots > 0) {
      long[][] low = new long[slots][LOW_BUCKETS];
      for (WeightTensor tensor : tensors) {
        countLow(tensor, slotOfBucket, low, buffer);
      }
      for (int j = 0; j < grid; j++) {
        if (bucket[j] < 0) {
          continue;
        }
        long[] counts = low[slotOfBucket[bucket[j]]];
        long below = 0;
        int l = 0;
        while (below + counts[l] < rankInBucket[j]) {
          below += counts[l++];
        }
        threshold[j] = (bucket[j] << LOW_BITS) | l;
        ties[j] = rankInBucket[j] - below;
      }
    }

    Mask[][] masks = new Mask[grid][tensors.size()];
    long[] tiesLeft = ties.clone();
    for (int t = 0; t < tensors.size(); t++) {
      WeightTensor tensor = tensors.get(t);
      long[][] words = new long[grid][(tensor.size() + 63) >>> 6];
      markPruned(tensor, threshold, tiesLeft, words, buffer);
      for (int j = 0; j < grid; j++) {
        masks[j][t] = Mask.ofWords(tensor.name(), tensor.shape(), words[j]);
        words[j] = null;
      }
    }
    return masks;
  }

  /** Adds the tensor's keys to the high-bits histogram; refuses NaN and infinite values. */
  private static void countHigh(WeightTensor tensor, long[] high, float[] buffer, String criterion) {
    FloatBuffer source = tensor.data().duplicate();
    int n = tensor.size();
    for (int base = 0; base < n; base += CHUNK) {
      int length = Math.min(CHUNK, n - base);
      source.get(buffer, 0, length);
      for (int i = 0; i < length; i++) {
        int key = Float.floatToRawIntBits(buffer[i]) & 0x7fffffff;
        if (key >= NON_FINITE) {
          throw new InvalidInputException("tensor " + tensor.name() + " holds " + buffer[i]
              + " at flat index " + (base + i) + "; criterion " + criterion
              + " needs finite weights");
        }
        high[key >>> LOW_BITS]++;
      }
    }
  }

  /** Adds the keys that fall in a selected high bucket to that bucket's low-bits histogram. */
  private static void countLow(WeightTensor tensor, int[] slotOfBucket, long[][] low, float[] buffer) {
    FloatBuffer source = tensor.data().duplicate();
    int n = tensor.size();
    for (int base = 0; base < n; base += CHUNK) {
      int length = Math.min(CHUNK, n - base);
      source.get(buffer, 0, length);
      for (int i = 0; i < length; i++) {
        int key = Float.floatToRawIntBits(buffer[i]) & 0x7fffffff;
        int slot = slotOfBucket[key >>> LOW_BITS];
        if (slot >= 0) {
          low[slot][key & LOW_MASK]++;
        }
      }
    }
  }

  /**
   * For every grid point j, sets the bits of {@code words[j]} at positions whose key is below
   * {@code threshold[j]}, and at the first {@code tiesLeft[j]} positions whose key equals it
   * (counting down what is still to prune): one pass over the tensor for the whole grid.
   */
  private static void markPruned(WeightTensor tensor, int[] threshold, long[] tiesLeft,
      long[][] words, float[] buffer) {
    FloatBuffer source = tensor.data().duplicate();
    int n = tensor.size();
    int grid = threshold.length;
    int[] keys = new int[64];
    for (int base = 0; base < n; base += CHUNK) {
      int length = Math.min(CHUNK, n - base);
      source.get(buffer, 0, length);
      // base is a multiple of 64, so bit i of a word is element (base + start + i) for i < 64.
      for (int start = 0; start < length; start += 64) {
        int end = Math.min(start + 64, length);
        int count = end - start;
        for (int i = 0; i < count; i++) {
          keys[i] = Float.floatToRawIntBits(buffer[start + i]) & 0x7fffffff;
        }
        int w = (base + start) >>> 6;
        for (int j = 0; j < grid; j++) {
          int limit = threshold[j];
          long word = 0;
          for (int i = 0; i < count; i++) {
            // Both are in [0, 2^31), so the difference's sign bit says key < threshold.
            word |= (long) ((keys[i] - limit) >>> 31) << i;
          }
          if (tiesLeft[j] > 0) {
            for (int i = 0; i < count && tiesLeft[j] > 0; i++) {
              if (keys[i] == limit) {
                word |= 1L << i;
                tiesLeft[j]--;
              }
            }
          }
          words[j][w] = word;
        }
      }
    }
  }
}
