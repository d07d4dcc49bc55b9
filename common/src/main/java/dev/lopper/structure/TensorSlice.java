package dev.lopper.structure;

import dev.lopper.mask.Mask;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Objects;

/**
 * The part of one weight tensor that structured pruning keeps: per axis, the kept indices in
 * increasing order, or null where the whole axis is kept. The same slice gives the physically
 * smaller tensor ({@link #apply}) and the mask of the dense tensor ({@link #mask}), so that a shrunk
 * model and the masked model it stands for cannot disagree about which weights survive.
 *
 * @param tensor the tensor's name
 * @param shape the dense tensor's shape
 * @param kept per axis, the kept indices (strictly increasing, inside the axis), or null for all
 */
public record TensorSlice(String tensor, long[] shape, int[][] kept) {

  public TensorSlice {
    Objects.requireNonNull(tensor, "tensor");
    shape = shape.clone();
    if (kept.length != shape.length) {
      throw new IllegalArgumentException("slice of " + tensor + ": " + kept.length
          + " axes given, shape " + Arrays.toString(shape) + " has " + shape.length);
    }
    int[][] copy = new int[kept.length][];
    for (int a = 0; a < kept.length; a++) {
      if (kept[a] == null) {
        continue;
      }
      copy[a] = kept[a].clone();
      for (int i = 0; i < copy[a].length; i++) {
        if (copy[a][i] < 0 || copy[a][i] >= shape[a] || (i > 0 && copy[a][i] <= copy[a][i - 1])) {
          throw new IllegalArgumentException("slice of " + tensor + " axis " + a + ": indices "
              + Arrays.toString(kept[a]) + " are not increasing inside [0, " + shape[a] + ")");
        }
      }
    }
    kept = copy;
  }

  /** A slice that keeps everything. */
  public static TensorSlice full(String tensor, long[] shape) {
    return new TensorSlice(tensor, shape, new int[shape.length][]);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public int[][] kept() {
    int[][] out = new int[kept.length][];
    for (int a = 0; a < kept.length; a++) {
      out[a] = kept[a] == null ? null : kept[a].clone();
    }
    return out;
  }

  /** The same slice with axis {@code axis} restricted to {@code indices} (intersected with what it keeps). */
  public TensorSlice keepOnly(int axis, int[] indices) {
    int[][] next = kept();
    if (next[axis] == null) {
      next[axis] = indices.clone();
    } else {
      BitSet both = new BitSet();
      Arrays.stream(next[axis]).forEach(both::set);
      BitSet other = new BitSet();
      Arrays.stream(indices).forEach(other::set);
      both.and(other);
      next[axis] = both.stream().toArray();
    }
    return new TensorSlice(tensor, shape, next);
  }

  /** The shape of the kept part. */
  public long[] keptShape() {
    long[] out = shape.clone();
    for (int a = 0; a < out.length; a++) {
      if (kept[a] != null) {
        out[a] = kept[a].length;
      }
    }
    return out;
  }

  /** True when the slice keeps the whole tensor. */
  public boolean isFull() {
    return Arrays.equals(keptShape(), shape);
  }

  /** The kept part of {@code weight} as a new tensor of {@link #keptShape()}. */
  public WeightTensor apply(WeightTensor weight) {
    if (!weight.name().equals(tensor) || !Arrays.equals(weight.shape(), shape)) {
      throw new IllegalArgumentException("slice of " + tensor + " " + Arrays.toString(shape)
          + " applied to " + weight);
    }
    long[] outShape = keptShape();
    FloatBuffer out = WeightTensor.allocate(WeightTensor.elementCount(outShape));
    FloatBuffer in = weight.data();
    forEachKept((source, target) -> out.put(target, in.get(source)));
    return new WeightTensor(tensor, outShape, out);
  }

  /** The mask of the dense tensor: every position outside the slice is pruned. */
  public Mask mask() {
    int size = (int) WeightTensor.elementCount(shape);
    BitSet pruned = new BitSet(size);
    pruned.set(0, size);
    forEachKept((source, target) -> pruned.clear(source));
    return new Mask(tensor, shape, pruned);
  }

  private interface PositionVisitor {
    void visit(int source, int target);
  }

  /** Visits every kept position: its flat index in the dense tensor and in the kept one. */
  private void forEachKept(PositionVisitor visitor) {
    int rank = shape.length;
    long[] keptShape = keptShape();
    if (WeightTensor.elementCount(keptShape) == 0) {
      return;
    }
    long[] strides = new long[rank];
    long stride = 1;
    for (int a = rank - 1; a >= 0; a--) {
      strides[a] = stride;
      stride *= shape[a];
    }
    int[] index = new int[rank];
    int target = 0;
    while (true) {
      long source = 0;
      for (int a = 0; a < rank; a++) {
        source += strides[a] * (kept[a] == null ? index[a] : kept[a][index[a]]);
      }
      visitor.visit((int) source, target++);
      int a = rank - 1;
      while (a >= 0 && ++index[a] == keptShape[a]) {
        index[a] = 0;
        a--;
      }
      if (a < 0) {
        return;
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSlice s && tensor.equals(s.tensor) && Arrays.equals(shape, s.shape)
        && Arrays.deepEquals(kept, s.kept);
  }

  @Override
  public int hashCode() {
    return Objects.hash(tensor, Arrays.hashCode(shape), Arrays.deepHashCode(kept));
  }

  @Override
  public String toString() {
    return "TensorSlice[" + tensor + " " + Arrays.toString(shape) + " -> " + Arrays.toString(keptShape()) + "]";
  }
}
