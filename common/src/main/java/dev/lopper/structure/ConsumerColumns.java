package dev.lopper.structure;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * A consumer weight ({@link ChannelGroup.Role#INPUT} member) seen as the matrix its calibration
 * statistics describe: {@code outputs} rows and one column per statistics channel, a column being
 * an input position on the member's axis and, for a Conv, one kernel tap ({@code [out, in·kh·kw]},
 * the im2col view of {@link dev.lopper.calibration.ConsumerInput}). Channel c of the group owns
 * the positions {@code offset + c·block … offset + (c+1)·block − 1} of the member's axis, so its
 * columns are those positions times every tap.
 *
 * <p>Layouts: a matrix read on axis 1 ({@code [out, in]}, Gemm with {@code transB = 1}) or on axis
 * 0 ({@code [in, out]}, MatMul, Gemm without transpose); a Conv weight {@code [out, in, k…]} read
 * on axis 1. Anything else is refused with the tensor's name.
 */
public final class ConsumerColumns {
  private final ChannelGroup.Member member;
  private final WeightTensor weight;
  private final int outputs;
  private final int positions;
  private final int taps;
  private final boolean inputFirst;

  private ConsumerColumns(ChannelGroup.Member member, WeightTensor weight, int outputs, int positions, int taps,
      boolean inputFirst) {
    this.member = member;
    this.weight = weight;
    this.outputs = outputs;
    this.positions = positions;
    this.taps = taps;
    this.inputFirst = inputFirst;
  }

  /**
   * The columns of {@code weight}, the tensor of {@code member}.
   *
   * @throws InvalidInputException when the layout is not one of the class's
   */
  public static ConsumerColumns of(ChannelGroup.Member member, WeightTensor weight) {
    if (member.role() != ChannelGroup.Role.INPUT) {
      throw new IllegalArgumentException("member " + member.tensor() + " is a " + member.role() + ", not an INPUT");
    }
    long[] shape = weight.shape();
    int axis = member.axis();
    if (shape.length == 2 && axis <= 1) {
      int in = Math.toIntExact(shape[axis]);
      int out = Math.toIntExact(shape[1 - axis]);
      return new ConsumerColumns(member, weight, out, in, 1, axis == 0);
    }
    if (shape.length >= 3 && axis == 1) {
      long taps = 1;
      for (int a = 2; a < shape.length; a++) {
        taps *= shape[a];
      }
      return new ConsumerColumns(member, weight, Math.toIntExact(shape[0]), Math.toIntExact(shape[1]),
          Math.toIntExact(taps), false);
    }
    throw new InvalidInputException("tensor " + weight.name() + " " + Arrays.toString(shape) + " reads its"
        + " channels on axis " + axis + "; activation statistics are known for matrices and Conv weights read on"
        + " their input axis");
  }

  /** The member. */
  public ChannelGroup.Member member() {
    return member;
  }

  /** Output rows (neurons, filters). */
  public int outputs() {
    return outputs;
  }

  /** Columns: input positions × taps, what the calibration statistics of this consumer count. */
  public int columns() {
    return positions * taps;
  }

  /** Taps per input position: the kernel's size for a Conv, 1 for a matrix. */
  public int taps() {
    return taps;
  }

  /** The first column of channel {@code c}, and {@link #channelColumns()} follow it. */
  public int firstColumn(int c) {
    return Math.toIntExact((member.offset() + c * member.block()) * taps);
  }

  /** Columns per channel: the member's block × taps. */
  public int channelColumns() {
    return Math.toIntExact(member.block() * taps);
  }

  /** The weight of output {@code o} at column {@code j}. */
  public float get(int o, int j) {
    FloatBuffer data = weight.data();
    if (inputFirst) { // [in, out]
      return data.get(j * outputs + o);
    }
    return data.get(o * columns() + j);
  }

  /**
   * Checks that {@code statistics} describe this consumer's columns and that the group's {@code
   * channels} fit on its axis.
   *
   * @throws InvalidInputException naming the tensor when they do not
   */
  public void check(InputStatistics statistics, long channels) {
    if (statistics.dim() != columns()) {
      throw new InvalidInputException("tensor " + weight.name() + ": calibration statistics of "
          + statistics.dim() + " channels for a consumer of " + columns() + " columns (" + positions
          + " inputs × " + taps + " taps)");
    }
    if (member.offset() + channels * member.block() > positions) {
      throw new IllegalArgumentException("tensor " + weight.name() + " has no room for " + channels
          + " channels on axis " + member.axis());
    }
    if (statistics.count() < 2) {
      throw new InvalidInputException("tensor " + weight.name() + ": calibration statistics of "
          + statistics.count() + " samples; a variance needs at least 2");
    }
  }
}
