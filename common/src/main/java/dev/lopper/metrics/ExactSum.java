package dev.lopper.metrics;

import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;

/**
 * An exact, order-independent sum of doubles: adding the same values in any order or grouping,
 * and merging partial sums in any order, gives the same exact value and so the same
 * {@link #value()}, bit for bit.
 *
 * <p>The finite values are accumulated in a fixed-point "superaccumulator": every finite double is
 * an integer multiple of 2<sup>-1074</sup>, so the sum is kept exactly as an integer count of
 * 2<sup>-1074</sup> in 32-bit digits held in longs (the spare high bits absorb carries, which are
 * propagated every 2<sup>30</sup> additions). An addition is cheap enough for every per-sample
 * value of a sweep, unlike a {@code BigDecimal} sum (docs/design.md, "Partial results that merge
 * exactly", has the timings).
 *
 * <p>NaN and infinite inputs are counted rather than added, and {@link #value()} returns what IEEE
 * arithmetic would: NaN if any NaN (or both infinities) was added, otherwise the infinity added.
 * An exact sum of zero is reported as {@code +0.0}.
 *
 * <p>Mutable and not thread-safe; a task accumulates into its own instance and partial sums travel
 * (Serializable) to be {@link #merge merged}.
 */
public final class ExactSum implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private static final int DIGITS = 70; // 2240 bits: 2098 for the double range, the rest for carries
  private static final long MASK = 0xFFFFFFFFL;
  private static final int NORMALIZE_EVERY = 1 << 30;

  private transient long[] digits = new long[DIGITS];
  private transient int pending;
  private transient int normalizeEvery = NORMALIZE_EVERY;
  private long nans;
  private long positiveInfinities;
  private long negativeInfinities;

  /** An empty sum (value 0). */
  public ExactSum() {}

  /** An empty sum that propagates carries every {@code normalizeEvery} additions (for tests). */
  ExactSum(int normalizeEvery) {
    if (normalizeEvery < 1 || normalizeEvery > NORMALIZE_EVERY) {
      throw new IllegalArgumentException("normalizeEvery out of range: " + normalizeEvery);
    }
    this.normalizeEvery = normalizeEvery;
  }

  /** A sum of {@code values}. */
  public static ExactSum of(double... values) {
    ExactSum sum = new ExactSum();
    for (double v : values) {
      sum.add(v);
    }
    return sum;
  }

  /** Adds {@code x} exactly. */
  public ExactSum add(double x) {
    long bits = Double.doubleToRawLongBits(x);
    int exponent = (int) ((bits >>> 52) & 0x7FF);
    long mantissa = bits & 0xFFFFFFFFFFFFFL;
    if (exponent == 0x7FF) {
      if (mantissa != 0) {
        nans++;
      } else if (bits < 0) {
        negativeInfinities++;
      } else {
        positiveInfinities++;
      }
      return this;
    }
    int shift;
    if (exponent == 0) {
      if (mantissa == 0) {
        return this;
      }
      shift = 0;
    } else {
      mantissa |= 1L << 52;
      shift = exponent - 1; // bit 0 of the mantissa has weight 2^(exponent - 1075)
    }
    int k = shift >>> 5;
    int o = shift & 31;
    long lo = (mantissa << o) & MASK;
    long mid = (mantissa << o) >>> 32;
    long hi = o == 0 ? 0 : mantissa >>> (64 - o);
    if (bits < 0) {
      digits[k] -= lo;
      digits[k + 1] -= mid;
      digits[k + 2] -= hi;
    } else {
      digits[k] += lo;
      digits[k + 1] += mid;
      digits[k + 2] += hi;
    }
    if (++pending >= normalizeEvery) {
      normalize(digits);
      pending = 0;
    }
    return this;
  }

  /** Adds everything {@code other} holds; {@code other} is unchanged. */
  public ExactSum merge(ExactSum other) {
    long[] theirs = other.normalized();
    for (int i = 0; i < DIGITS; i++) {
      digits[i] += theirs[i];
    }
    if (++pending >= normalizeEvery) {
      normalize(digits);
      pending = 0;
    }
    nans = Math.addExact(nans, other.nans);
    positiveInfinities = Math.addExact(positiveInfinities, other.positiveInfinities);
    negativeInfinities = Math.addExact(negativeInfinities, other.negativeInfinities);
    return this;
  }

  /** An independent copy. */
  public ExactSum copy() {
    ExactSum copy = new ExactSum();
    copy.merge(this);
    return copy;
  }

  /** The sum rounded to the nearest double (ties to even), or NaN/infinity as described above. */
  public double value() {
    if (nans > 0 || (positiveInfinities > 0 && negativeInfinities > 0)) {
      return Double.NaN;
    }
    if (positiveInfinities > 0) {
      return Double.POSITIVE_INFINITY;
    }
    if (negativeInfinities > 0) {
      return Double.NEGATIVE_INFINITY;
    }
    BigInteger units = units();
    BigInteger magnitude = units.abs();
    int top = magnitude.bitLength() - 1;
    double rounded;
    if (top < 53) {
      // Below 2^-1021 every multiple of 2^-1074 is a double: exact.
      rounded = Math.scalb((double) magnitude.longValue(), -1074);
    } else {
      int drop = top - 52;
      long mantissa = magnitude.shiftRight(drop).longValue();
      boolean half = magnitude.testBit(drop - 1);
      boolean sticky = magnitude.getLowestSetBit() < drop - 1;
      if (half && (sticky || (mantissa & 1) == 1)) {
        mantissa++; // may reach 2^53, still exact as a double
      }
      rounded = Math.scalb((double) mantissa, drop - 1074); // overflow gives infinity, as IEEE
    }
    return units.signum() < 0 ? -rounded : rounded;
  }

  /**
   * The exact sum of the finite values added (NaNs and infinities are not in it).
   */
  public BigDecimal finiteValue() {
    // units * 2^-1074 == units * 5^1074 * 10^-1074, exactly.
    return new BigDecimal(units().multiply(BigInteger.valueOf(5).pow(1074)), 1074)
        .stripTrailingZeros();
  }

  /** Number of NaNs added (directly or through merges). */
  public long nanCount() {
    return nans;
  }

  /** Number of infinities added, of either sign. */
  public long infiniteCount() {
    return positiveInfinities + negativeInfinities;
  }

  /** The finite sum as an integer number of 2^-1074. */
  private BigInteger units() {
    long[] d = normalized();
    byte[] bytes = new byte[8 + 4 * (DIGITS - 1)];
    long topDigit = d[DIGITS - 1];
    for (int b = 0; b < 8; b++) {
      bytes[b] = (byte) (topDigit >>> (56 - 8 * b));
    }
    for (int i = DIGITS - 2, p = 8; i >= 0; i--, p += 4) {
      long v = d[i];
      bytes[p] = (byte) (v >>> 24);
      bytes[p + 1] = (byte) (v >>> 16);
      bytes[p + 2] = (byte) (v >>> 8);
      bytes[p + 3] = (byte) v;
    }
    return new BigInteger(bytes);
  }

  /** A copy of the digits with carries propagated: digits 0..DIGITS-2 in [0, 2^32), the top signed. */
  private long[] normalized() {
    long[] d = digits.clone();
    normalize(d);
    return d;
  }

  private static void normalize(long[] d) {
    for (int i = 0; i < DIGITS - 1; i++) {
      long carry = d[i] >> 32;
      d[i] &= MASK;
      d[i + 1] += carry;
    }
  }

  private static long[] digitsOf(BigInteger units) {
    long[] d = new long[DIGITS];
    for (int i = 0; i < DIGITS - 1; i++) {
      d[i] = units.shiftRight(32 * i).intValue() & MASK;
    }
    d[DIGITS - 1] = units.shiftRight(32 * (DIGITS - 1)).longValue();
    return d;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ExactSum other && nans == other.nans
        && positiveInfinities == other.positiveInfinities
        && negativeInfinities == other.negativeInfinities
        && Arrays.equals(normalized(), other.normalized());
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(normalized()) * 31
        + Long.hashCode(nans + 3 * positiveInfinities + 7 * negativeInfinities);
  }

  @Override
  public String toString() {
    return "ExactSum[" + value() + (nans + positiveInfinities + negativeInfinities > 0
        ? ", " + nans + " NaN, " + positiveInfinities + " +inf, " + negativeInfinities + " -inf"
        : "") + "]";
  }

  // Serialized form: the counts (default fields) and the exact finite sum as a BigInteger.
  @Serial
  private void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException {
    out.defaultWriteObject();
    out.writeObject(units());
  }

  @Serial
  private void readObject(ObjectInputStream in) throws java.io.IOException, ClassNotFoundException {
    in.defaultReadObject();
    Object units = in.readObject();
    if (!(units instanceof BigInteger value) || value.bitLength() > 32 * DIGITS - 2) {
      throw new java.io.InvalidObjectException("not an ExactSum: " + units);
    }
    digits = digitsOf(value);
    pending = 0;
    normalizeEvery = NORMALIZE_EVERY;
  }
}
