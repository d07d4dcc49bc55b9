package dev.lopper.calibration;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The samples of one {@link ConsumerInput} in one batch's captured value: a matrix of {@link
 * #count()} rows of {@link #dim()} channels, handed out block by block as float64 (every float32
 * is exact in float64), in sample order: row-major order of the value's sample indices, padding
 * positions of token batches left out.
 */
abstract class Samples {
  private final int count;
  private final int dim;

  private Samples(int count, int dim) {
    this.count = count;
    this.dim = dim;
  }

  /** Number of samples. */
  final int count() {
    return count;
  }

  /** Channels per sample. */
  final int dim() {
    return dim;
  }

  /** Writes samples {@code first .. first + rows − 1} into {@code out}, row-major. */
  abstract void fill(int first, int rows, double[] out);

  /**
   * The samples {@code input} takes from {@code value}, a value of {@code batch}'s run.
   *
   * @throws InvalidInputException when the value's shape does not fit the input (its channels, or
   *     the batch's rows as its first axis), or when the batch has padding positions and the value's
   *     samples cannot be told apart by position
   */
  static Samples of(ConsumerInput input, Batch batch, CapturedValue value) {
    long[] shape = value.shape();
    String where = "value " + value.name() + " " + Arrays.toString(shape) + " (for " + input.key() + ", "
        + input.dim() + " channels) of " + batch;
    boolean padded = hasPadding(batch);
    int rank = shape.length;
    switch (input.layout()) {
      case ROWS -> {
        if (rank < 2 || shape[rank - 1] != input.dim()) {
          throw new InvalidInputException(where + ": expected the last axis to hold the " + input.dim() + " channels");
        }
        long leading = shape[0];
        int tokens = batch.rows() * batch.positions();
        if (leading != batch.rows() && !(batch.positions() > 0 && leading == tokens)) {
          throw new InvalidInputException(where + ": expected the batch's " + batch.rows() + " rows"
              + (batch.positions() > 0 ? " (or its " + tokens + " positions)" : "") + " as the first axis");
        }
        int samples = Math.toIntExact(product(shape, 0, rank - 1));
        int[] bases;
        if (padded) {
          // [rows, positions, ...] or [rows · positions, ...]: sample s is at position (s / per) % positions.
          boolean byPosition = (leading == batch.rows() && rank >= 3 && shape[1] == batch.positions())
              || leading == tokens;
          if (!byPosition) {
            throw new InvalidInputException(where + ": the batch has padding positions, and the value's"
                + " axes are not [rows, positions, ...] or [rows * positions, ...], so its padding samples"
                + " cannot be left out");
          }
          int per = samples / tokens;
          int[] kept = new int[samples];
          int n = 0;
          for (int s = 0; s < samples; s++) {
            int position = s / per;
            if (batch.counts(position / batch.positions(), position % batch.positions())) {
              kept[n++] = s * input.dim();
            }
          }
          bases = Arrays.copyOf(kept, n);
        } else {
          bases = new int[samples];
          for (int s = 0; s < samples; s++) {
            bases[s] = s * input.dim();
          }
        }
        return new Strided(value.data(), bases, 1, input.dim());
      }
      case COLUMNS -> {
        if (rank < 2 || shape[rank - 2] != input.dim()) {
          throw new InvalidInputException(where + ": expected the second-to-last axis to hold the "
              + input.dim() + " channels");
        }
        if (rank == 2 ? shape[1] != batch.rows() : shape[0] != batch.rows()) {
          throw new InvalidInputException(where + ": expected the batch's " + batch.rows() + " rows as the "
              + (rank == 2 ? "last" : "first") + " axis");
        }
        if (padded) {
          throw new InvalidInputException(where + ": the batch has padding positions, which Lopper leaves out"
              + " only of values whose last axis holds the channels");
        }
        int columns = Math.toIntExact(shape[rank - 1]);
        int blocks = Math.toIntExact(product(shape, 0, rank - 2));
        int[] bases = new int[blocks * columns];
        for (int b = 0; b < blocks; b++) {
          for (int c = 0; c < columns; c++) {
            bases[b * columns + c] = b * input.dim() * columns + c;
          }
        }
        return new Strided(value.data(), bases, columns, input.dim());
      }
      case PATCHES -> {
        ConsumerInput.Patches p = input.patches();
        if (rank != 4 || shape[0] != batch.rows() || shape[1] * p.kernelH() * p.kernelW() != input.dim()) {
          throw new InvalidInputException(where + ": expected [" + batch.rows() + ", "
              + input.dim() / (p.kernelH() * p.kernelW()) + ", height, width] for a " + p.kernelH() + "x"
              + p.kernelW() + " convolution");
        }
        if (padded) {
          throw new InvalidInputException(where + ": the batch has padding positions, which a Conv input's"
              + " patches cannot leave out");
        }
        return new Patches(value.data(), shape, p, input.dim());
      }
      default -> throw new IllegalStateException("layout " + input.layout());
    }
  }

  private static boolean hasPadding(Batch batch) {
    for (int r = 0; r < batch.rows(); r++) {
      for (int t = 0; t < batch.positions(); t++) {
        if (!batch.counts(r, t)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The product of axes {@code from .. to − 1}. */
  private static long product(long[] shape, int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) {
      p = Math.multiplyExact(p, shape[i]);
    }
    return p;
  }

  /** Samples whose channel j is at {@code base + j · stride}. */
  private static final class Strided extends Samples {
    private final FloatBuffer data;
    private final int[] bases;
    private final int stride;
    private final float[] row;

    Strided(FloatBuffer data, int[] bases, int stride, int dim) {
      super(bases.length, dim);
      this.data = data;
      this.bases = bases;
      this.stride = stride;
      this.row = new float[dim];
    }

    @Override
    void fill(int first, int rows, double[] out) {
      int dim = dim();
      for (int k = 0; k < rows; k++) {
        int base = bases[first + k];
        int o = k * dim;
        if (stride == 1) {
          data.get(base, row, 0, dim);
          for (int j = 0; j < dim; j++) {
            out[o + j] = row[j];
          }
        } else {
          for (int j = 0; j < dim; j++) {
            out[o + j] = data.get(base + j * stride);
          }
        }
      }
    }
  }

  /**
   * The im2col patches of a Conv input {@code [images, C, H, W]}, as torch.nn.functional.unfold
   * makes them: sample (image, output row, output column) in that order, channel (c, kernel row,
   * kernel column) in that order, zeros where the kernel reaches into the padding.
   */
  private static final class Patches extends Samples {
    private final FloatBuffer data;
    private final ConsumerInput.Patches p;
    private final int channels;
    private final int height;
    private final int width;
    private final int outHeight;
    private final int outWidth;
    private final int padTop;
    private final int padLeft;

    Patches(FloatBuffer data, long[] shape, ConsumerInput.Patches p, int dim) {
      this(data, shape, p, dim, p.pads(Math.toIntExact(shape[2]), Math.toIntExact(shape[3])));
    }

    private Patches(FloatBuffer data, long[] shape, ConsumerInput.Patches p, int dim, int[] pads) {
      super(Math.multiplyExact(Math.toIntExact(shape[0]),
          Math.multiplyExact(Math.max(0, p.outputHeight((int) shape[2], pads)),
              Math.max(0, p.outputWidth((int) shape[3], pads)))), dim);
      this.data = data;
      this.p = p;
      this.channels = Math.toIntExact(shape[1]);
      this.height = Math.toIntExact(shape[2]);
      this.width = Math.toIntExact(shape[3]);
      this.outHeight = p.outputHeight(height, pads);
      this.outWidth = p.outputWidth(width, pads);
      this.padTop = pads[0];
      this.padLeft = pads[1];
    }

    @Override
    void fill(int first, int rows, double[] out) {
      int kh = p.kernelH();
      int kw = p.kernelW();
      int o = 0;
      for (int k = 0; k < rows; k++) {
        int s = first + k;
        int ow = s % outWidth;
        int oh = (s / outWidth) % outHeight;
        int image = s / (outWidth * outHeight);
        for (int c = 0; c < channels; c++) {
          int plane = (image * channels + c) * height;
          for (int i = 0; i < kh; i++) {
            int y = oh * p.strideH() - padTop + i * p.dilationH();
            for (int j = 0; j < kw; j++) {
              int x = ow * p.strideW() - padLeft + j * p.dilationW();
              out[o++] = y >= 0 && y < height && x >= 0 && x < width ? data.get((plane + y) * width + x) : 0.0;
            }
          }
        }
      }
    }
  }
}
