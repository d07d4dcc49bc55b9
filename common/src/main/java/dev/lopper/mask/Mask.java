package dev.lopper.mask;

import dev.lopper.InvalidInputException;
import dev.lopper.model.WeightTensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Objects;

/**
 * Which flat (row-major) positions of one weight tensor are pruned. Immutable: the shape and the
 * bit set are copied on the way in and out.
 *
 * <pre>{@code
 * Mask mask = new Mask("fc1.weight", new long[] {4, 3}, pruned);
 * WeightTensor sparse = mask.apply(dense);          // pruned positions become 0.0f
 * ByteBuffer bytes = mask.toBoolBytes();            // 1 = kept, 0 = pruned, as PyTorch masks
 * }</pre>
 *
 * <p>The positions are held as the words of a bit set (position i is bit {@code i & 63} of word
 * {@code i >>> 6}), without trailing zero words, and read in place: applying a mask to a tensor
 * makes no copy of them. A large model's sweep applies masks of 67 M positions (8 MB of words)
 * many times; a copy per use was most of its garbage (docs/benchmarks.md).
 */
public final class Mask {

  private final String name;
  private final long[] shape;
  private final long[] words;

  /**
   * A mask of the positions set in {@code pruned}.
   *
   * @param name the weight tensor's name
   * @param shape the weight tensor's shape
   * @param pruned the flat positions that are pruned; no bit at or beyond {@link #size()}
   */
  public Mask(String name, long[] shape, BitSet pruned) {
    this(name, shape, pruned.toLongArray(), true);
  }

  private Mask(String name, long[] shape, long[] words, boolean owned) {
    this.name = Objects.requireNonNull(name, "name");
    this.shape = shape.clone();
    long n = WeightTensor.elementCount(shape);
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("mask " + name + ": shape " + Arrays.toString(shape)
          + " has " + n + " elements, more than " + Integer.MAX_VALUE);
    }
    int used = words.length;
    while (used > 0 && words[used - 1] == 0) {
      used--;
    }
    long length = used == 0 ? 0 : ((long) (used - 1) << 6) + 64 - Long.numberOfLeadingZeros(words[used - 1]);
    if (length > n) {
      throw new IllegalArgumentException("mask " + name + ": position " + (length - 1)
          + " is pruned, but shape " + Arrays.toString(shape) + " has " + n + " elements");
    }
    this.words = owned && used == words.length ? words : Arrays.copyOf(words, used);
  }

  /**
   * A mask whose pruned positions are the set bits of {@code words} (position i is bit {@code i &
   * 63} of word {@code i >>> 6}). The array is taken over, not copied: the caller must not change
   * it afterwards. For criteria that mark masks word by word.
   */
  public static Mask ofWords(String name, long[] shape, long[] words) {
    return new Mask(name, shape, words, true);
  }

  /** The weight tensor's name. */
  public String name() {
    return name;
  }

  /** A mask of {@code shape} that prunes nothing. */
  public static Mask none(String name, long[] shape) {
    return new Mask(name, shape, new BitSet());
  }

  /**
   * Reads a mask from one byte per element, 1 = kept and 0 = pruned (PyTorch's meaning, as
   * written by {@link #toBoolBytes()}), from the buffer's position to its limit.
   *
   * @throws IllegalArgumentException when the buffer does not hold one byte per element
   * @throws InvalidInputException when a byte is neither 0 nor 1, naming the tensor and index
   */
  public static Mask fromBoolBytes(String name, long[] shape, ByteBuffer bytes) {
    long n = WeightTensor.elementCount(shape);
    if (bytes.remaining() != n) {
      throw new IllegalArgumentException("mask " + name + ": " + bytes.remaining()
          + " bytes, shape " + Arrays.toString(shape) + " needs " + n);
    }
    int base = bytes.position();
    long[] words = new long[(int) ((n + 63) >>> 6)];
    for (int i = 0; i < n; i++) {
      byte b = bytes.get(base + i);
      if (b == 0) {
        words[i >>> 6] |= 1L << i;
      } else if (b != 1) {
        throw new InvalidInputException("mask " + name + ": value " + (b & 0xff)
            + " at flat index " + i + ", expected 0 (pruned) or 1 (kept)");
      }
    }
    return ofWords(name, shape, words);
  }

  /** The weight tensor's shape (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /** The flat positions that are pruned (a copy). */
  public BitSet pruned() {
    return BitSet.valueOf(words);
  }

  /** Number of elements of the tensor. */
  public int size() {
    return (int) WeightTensor.elementCount(shape);
  }

  /** Number of pruned positions. */
  public int prunedCount() {
    long count = 0;
    for (long w : words) {
      count += Long.bitCount(w);
    }
    return (int) count;
  }

  /** Number of kept positions. */
  public int keptCount() {
    return size() - prunedCount();
  }

  /** Fraction of positions kept; 1.0 for a tensor without elements. */
  public double density() {
    int size = size();
    return size == 0 ? 1.0 : (double) keptCount() / size;
  }

  /** True when flat position {@code i} is pruned. */
  public boolean isPruned(int i) {
    Objects.checkIndex(i, size());
    return bit(words, i);
  }

  /**
   * A new tensor equal to {@code weight} with the pruned positions set to {@code 0.0f}.
   *
   * @throws InvalidInputException when the tensor's name or shape differs from the mask's
   */
  public WeightTensor apply(WeightTensor weight) {
    checkFits(weight);
    return applyInto(weight, WeightTensor.allocate(size()));
  }

  /**
   * Like {@link #apply(WeightTensor)}, writing into {@code into} (a direct buffer of {@link
   * #size()} floats, overwritten from position 0) instead of a new buffer: a sweep's variants of
   * one tensor, used one at a time, share one buffer instead of allocating and zeroing a tensor's
   * bytes each.
   *
   * @throws InvalidInputException when the tensor's name or shape differs from the mask's
   * @throws IllegalArgumentException when {@code into} is not direct or has another capacity
   */
  public WeightTensor apply(WeightTensor weight, FloatBuffer into) {
    checkFits(weight);
    if (!into.isDirect() || into.capacity() != size()) {
      throw new IllegalArgumentException("a direct buffer of " + size() + " floats is needed for "
          + name + ", got " + (into.isDirect() ? "" : "a heap buffer of ") + into.capacity());
    }
    return applyInto(weight, into.clear());
  }

  /**
   * Like {@link #apply(WeightTensor, FloatBuffer)} when {@code into} already holds {@code weight}
   * masked by {@code previous} (a mask of the same tensor): only the positions where the two masks
   * differ are written, zeroed where this one prunes and restored from {@code weight} where only
   * {@code previous} did. A sweep's variants of a tensor, in order of sparsity, each cost a scan of
   * the two masks and the newly pruned positions rather than a copy of the tensor.
   *
   * @throws InvalidInputException when the tensor's or {@code previous}'s name or shape differs
   */
  public WeightTensor applyOver(WeightTensor weight, FloatBuffer into, Mask previous) {
    checkFits(weight);
    previous.checkFits(weight);
    if (!into.isDirect() || into.capacity() != size()) {
      throw new IllegalArgumentException("a direct buffer of " + size() + " floats is needed for "
          + name + ", got " + (into.isDirect() ? "" : "a heap buffer of ") + into.capacity());
    }
    FloatBuffer dense = weight.data();
    long[] now = words;
    long[] before = previous.words;
    for (int w = 0, end = Math.max(now.length, before.length); w < end; w++) {
      long c = w < now.length ? now[w] : 0;
      long p = w < before.length ? before[w] : 0;
      for (long zero = c & ~p; zero != 0; zero &= zero - 1) {
        into.put((w << 6) + Long.numberOfTrailingZeros(zero), 0.0f);
      }
      for (long restore = p & ~c; restore != 0; restore &= restore - 1) {
        int i = (w << 6) + Long.numberOfTrailingZeros(restore);
        into.put(i, dense.get(i));
      }
    }
    return new WeightTensor(name, shape, into.clear());
  }

  private void checkFits(WeightTensor weight) {
    if (!weight.name().equals(name)) {
      throw new InvalidInputException("mask for tensor " + name + " applied to tensor " + weight.name());
    }
    if (!Arrays.equals(weight.shape(), shape)) {
      throw new InvalidInputException("mask for tensor " + name + " has shape "
          + Arrays.toString(shape) + ", the tensor has shape " + Arrays.toString(weight.shape()));
    }
  }

  /** Floats copied per step of {@link #applyInto}; a multiple of 64. */
  private static final int CHUNK = 1 << 14;

  /**
   * Copies the weights into {@code out} with the pruned positions zeroed, a chunk at a time
   * through a heap array, 64 positions per word of the mask: one pass over the tensor (0.2 s for
   * 9 variants of a 67 M-weight tensor, where zeroing position by position took 1.9 s).
   */
  private WeightTensor applyInto(WeightTensor weight, FloatBuffer out) {
    FloatBuffer source = weight.data().duplicate();
    float[] chunk = new float[CHUNK];
    int n = size();
    for (int base = 0; base < n; base += CHUNK) {
      int length = Math.min(CHUNK, n - base);
      source.get(chunk, 0, length);
      for (int w = base >>> 6, end = Math.min(words.length, (base + length + 63) >>> 6); w < end; w++) {
        long word = words[w];
        while (word != 0) {
          chunk[(w << 6) - base + Long.numberOfTrailingZeros(word)] = 0.0f;
          word &= word - 1;
        }
      }
      out.put(chunk, 0, length);
    }
    return new WeightTensor(name, shape, out.flip());
  }

  /**
   * One byte per element in flat order, 1 = kept and 0 = pruned: PyTorch's mask meaning, so that
   * the bytes stored as a safetensors {@code BOOL} tensor load with {@code
   * safetensors.torch.load_file} and work with {@code prune.custom_from_mask(module, "weight",
   * mask)}. A fresh heap buffer positioned at 0.
   */
  public ByteBuffer toBoolBytes() {
    byte[] bytes = new byte[size()];
    Arrays.fill(bytes, (byte) 1);
    for (int w = 0; w < words.length; w++) {
      for (long word = words[w]; word != 0; word &= word - 1) {
        bytes[(w << 6) + Long.numberOfTrailingZeros(word)] = 0;
      }
    }
    return ByteBuffer.wrap(bytes);
  }

  private static boolean bit(long[] words, int i) {
    int w = i >>> 6;
    return w < words.length && (words[w] & (1L << i)) != 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Mask m && name.equals(m.name) && Arrays.equals(shape, m.shape)
        && Arrays.equals(words, m.words);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, Arrays.hashCode(shape), Arrays.hashCode(words));
  }

  @Override
  public String toString() {
    return "Mask[" + name + " " + Arrays.toString(shape) + ", " + prunedCount() + " of " + size()
        + " pruned]";
  }
}
