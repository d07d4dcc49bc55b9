package dev.lopper.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ExactSumTest {

  /** The exact sum, by BigDecimal (exact for doubles), rounded once by the JDK. */
  private static double reference(List<Double> values) {
    BigDecimal sum = BigDecimal.ZERO;
    for (double v : values) {
      sum = sum.add(new BigDecimal(v));
    }
    return sum.doubleValue();
  }

  private static BigDecimal exact(List<Double> values) {
    BigDecimal sum = BigDecimal.ZERO;
    for (double v : values) {
      sum = sum.add(new BigDecimal(v));
    }
    return sum;
  }

  @Test
  void cancellationIsExactInEveryOrder() {
    double[][] orders = {
        {1e16, 1, -1e16}, {1, 1e16, -1e16}, {1e16, -1e16, 1}, {-1e16, 1, 1e16}};
    for (double[] order : orders) {
      assertEquals(1.0, ExactSum.of(order).value());
    }
    // Plain double arithmetic gets the first order wrong.
    assertEquals(0.0, 1e16 + 1 - 1e16);
    assertEquals(0.0, ExactSum.of(1e300, -1e300, 1e-300, -1e-300).value());
    assertEquals(1e-300, ExactSum.of(1e300, 1e-300, -1e300).value());
  }

  @Test
  void valueIsTheCorrectlyRoundedExactSum() {
    Random random = new Random(7);
    for (int trial = 0; trial < 200; trial++) {
      List<Double> values = new ArrayList<>();
      int n = 1 + random.nextInt(50);
      for (int i = 0; i < n; i++) {
        double mantissa = random.nextDouble() * 2 - 1;
        int exponent = random.nextInt(trial % 2 == 0 ? 40 : 600) - (trial % 2 == 0 ? 20 : 300);
        values.add(Math.scalb(mantissa, exponent));
      }
      ExactSum sum = new ExactSum();
      values.forEach(sum::add);
      assertEquals(reference(values), sum.value(), () -> "sum of " + values);
      assertEquals(0, exact(values).compareTo(sum.finiteValue()));
    }
  }

  @Test
  void roundsHalfwayCasesToEven() {
    double ulpHalf = Math.scalb(1.0, -53);
    assertEquals(1.0, ExactSum.of(1.0, ulpHalf).value());
    assertEquals(Math.nextUp(1.0), ExactSum.of(1.0, ulpHalf, Math.scalb(1.0, -200)).value());
    double odd = Math.nextUp(1.0);
    assertEquals(Math.nextUp(odd), ExactSum.of(odd, ulpHalf).value());
    assertEquals(-1.0, ExactSum.of(-1.0, -ulpHalf).value());
  }

  @Test
  void handlesSubnormalsAndOverflowAsIeee() {
    assertEquals(2 * Double.MIN_VALUE, ExactSum.of(Double.MIN_VALUE, Double.MIN_VALUE).value());
    assertEquals(Double.MIN_NORMAL,
        ExactSum.of(Double.MIN_NORMAL - Double.MIN_VALUE, Double.MIN_VALUE).value());
    assertEquals(Double.POSITIVE_INFINITY, ExactSum.of(Double.MAX_VALUE, Double.MAX_VALUE).value());
    assertEquals(Double.MAX_VALUE,
        ExactSum.of(Double.MAX_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE).value());
    assertEquals(Double.NEGATIVE_INFINITY,
        ExactSum.of(-Double.MAX_VALUE, -Double.MAX_VALUE).value());
    assertEquals(0.0, ExactSum.of(0.0, -0.0).value());
  }

  @Test
  void recordsNanAndInfinitiesWithoutThrowing() {
    assertTrue(Double.isNaN(ExactSum.of(1, Double.NaN, 2).value()));
    assertTrue(Double.isNaN(
        ExactSum.of(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY).value()));
    assertEquals(Double.POSITIVE_INFINITY, ExactSum.of(1, Double.POSITIVE_INFINITY).value());
    assertEquals(Double.NEGATIVE_INFINITY, ExactSum.of(Double.NEGATIVE_INFINITY, 5).value());
    ExactSum merged = ExactSum.of(1).merge(ExactSum.of(Double.NaN));
    assertTrue(Double.isNaN(merged.value()));
    assertEquals(1, merged.nanCount());
    assertEquals(0, merged.finiteValue().compareTo(BigDecimal.ONE));
  }

  @Test
  void mergingInAnyOrderAndGroupingGivesTheSameExactValue() {
    Random random = new Random(11);
    List<Double> values = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      values.add(Math.scalb(random.nextGaussian(), random.nextInt(80) - 40));
    }
    ExactSum whole = new ExactSum();
    values.forEach(whole::add);
    for (int trial = 0; trial < 20; trial++) {
      List<Double> shuffled = new ArrayList<>(values);
      Collections.shuffle(shuffled, random);
      List<ExactSum> parts = new ArrayList<>();
      int i = 0;
      while (i < shuffled.size()) {
        int n = 1 + random.nextInt(100);
        ExactSum part = new ExactSum();
        shuffled.subList(i, Math.min(i + n, shuffled.size())).forEach(part::add);
        parts.add(part);
        i += n;
      }
      Collections.shuffle(parts, random);
      while (parts.size() > 1) { // merge random pairs: a random tree
        ExactSum a = parts.remove(random.nextInt(parts.size()));
        ExactSum b = parts.remove(random.nextInt(parts.size()));
        parts.add(a.merge(b));
      }
      assertEquals(whole, parts.get(0));
      assertEquals(whole.hashCode(), parts.get(0).hashCode());
      assertEquals(Double.doubleToRawLongBits(whole.value()),
          Double.doubleToRawLongBits(parts.get(0).value()));
    }
    assertEquals(reference(values), whole.value());
  }

  @Test
  void carriesPropagateCorrectlyWhenNormalisedOften() {
    Random random = new Random(3);
    ExactSum often = new ExactSum(1);
    ExactSum rarely = new ExactSum();
    List<Double> values = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      double v = (random.nextBoolean() ? 1 : -1) * Math.scalb(random.nextDouble(), random.nextInt(120) - 60);
      values.add(v);
      often.add(v);
      rarely.add(v);
    }
    assertEquals(rarely, often);
    assertEquals(reference(values), often.value());
  }

  @Test
  void mergingASumWithItselfDoublesIt() {
    ExactSum s = ExactSum.of(0.1, 0.2);
    s.merge(s);
    assertEquals(ExactSum.of(0.1, 0.2, 0.1, 0.2), s);
  }

  @Test
  void survivesJavaSerialization() throws Exception {
    ExactSum s = ExactSum.of(-0.1, 1e-310, 3e200, Double.POSITIVE_INFINITY, -7);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(s);
    }
    ExactSum back;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = (ExactSum) in.readObject();
    }
    assertEquals(s, back);
    back.add(1);
    assertNotEquals(s, back);
    ExactSum negative = ExactSum.of(-0.1, -1e-310);
    ByteArrayOutputStream b2 = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(b2)) {
      out.writeObject(negative);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b2.toByteArray()))) {
      ExactSum r = (ExactSum) in.readObject();
      assertEquals(negative, r);
      assertEquals(negative.value(), r.value());
    }
  }
}
