package dev.lopper.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.eval.Logits;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TallyTest {
  private BufferAllocator allocator;

  @BeforeEach
  void open() {
    allocator = new RootAllocator();
  }

  @AfterEach
  void close() {
    allocator.close();
  }

  /** A batch of {@code labels.length} one-value rows carrying the labels (features unused). */
  private Batch labelled(long firstRow, int... labels) {
    try (BatchBuilder b = new BatchBuilder(new long[] {1}, Math.max(1, labels.length), true, allocator)
        .startAtRow(firstRow)) {
      for (int label : labels) {
        b.add(new float[1], label);
      }
      return b.build();
    }
  }

  private Batch unlabelled(int rows) {
    try (BatchBuilder b = new BatchBuilder(new long[] {1}, rows, false, allocator)) {
      for (int r = 0; r < rows; r++) {
        b.add(new float[1]);
      }
      return b.build();
    }
  }

  @Test
  void lossMatchesTorchCrossEntropy() {
    // torch.nn.functional.cross_entropy(float64) of these rows: [0.4643687841079449, 3.0658839037574293]
    Logits logits = new Logits(2, 3, new float[] {1, 2, 0.5f, 3, -1, 0});
    try (Batch batch = labelled(0, 1, 2)) {
      Tally t = new TallyAccumulator(3).add(logits, batch, null).toTally();
      assertEquals(0.4643687841079449 + 3.0658839037574293, t.lossSum().value(), 1e-15);
      assertEquals((0.4643687841079449 + 3.0658839037574293) / 2, t.metrics().loss(), 1e-15);
      assertEquals(1, t.correct()); // row 0 predicts 1 (right), row 1 predicts 0 (label 2)
      assertEquals(1, t.confusion(1, 1));
      assertEquals(1, t.confusion(2, 0));
    }
  }

  @Test
  void klMatchesTorchKlDivAndIsZeroForIdenticalLogits() {
    // torch kl_div(log_softmax(pruned), log_softmax(dense), log_target=True).sum(1), float64:
    // [0.1725181277350999, 1.203889099699178]
    Logits pruned = new Logits(2, 3, new float[] {1, 2, 0.5f, 3, -1, 0});
    Logits dense = new Logits(2, 3, new float[] {0.5f, 0.25f, -1, 2, 2, 1});
    try (Batch batch = unlabelled(2)) {
      Tally t = new TallyAccumulator(3).add(pruned, batch, dense).toTally();
      assertEquals((0.1725181277350999 + 1.203889099699178) / 2, t.metrics().kl(), 1e-15);
      assertEquals(2, t.compared());
      assertEquals(0, t.labelled());
      Tally same = new TallyAccumulator(3).add(dense, batch, dense).toTally();
      assertEquals(0.0, same.metrics().kl());
    }
  }

  @Test
  void argmaxTakesTheLowestIndexAmongEqualMaxima() {
    Logits logits = new Logits(2, 4, new float[] {1, 3, 3, 0, 2, 2, 2, 2});
    try (Batch batch = labelled(0, 2, 0)) {
      Tally t = new TallyAccumulator(4).add(logits, batch, null).toTally();
      assertEquals(1, t.confusion(2, 1)); // predicted 1, not 2
      assertEquals(1, t.confusion(0, 0));
      assertEquals(1, t.correct());
    }
  }

  @Test
  void topFiveCountsOnlyStrictlyGreaterLogits() {
    // 7 classes; label 6's logit 1.0. Row 0: four logits above it and ties -> top-5 correct.
    // Row 1: five logits above it -> not. Row 2 (3 classes): min(5, C) = 3, always correct.
    Logits seven = new Logits(2, 7, new float[] {
        5, 4, 3, 2, 1, 1, 1,
        5, 4, 3, 2, 1.5f, 1, 1});
    try (Batch batch = labelled(0, 6, 6)) {
      Tally t = new TallyAccumulator(7).add(seven, batch, null).toTally();
      assertEquals(1, t.top5Correct());
      assertEquals(0, t.correct());
    }
    try (Batch batch = labelled(0, 2)) {
      Tally t = new TallyAccumulator(3).add(new Logits(1, 3, new float[] {3, 2, 1}), batch, null)
          .toTally();
      assertEquals(1, t.top5Correct());
    }
  }

  @Test
  void refusesALabelOutsideTheClassesNamingValueAndRow() {
    Logits logits = new Logits(3, 3, new float[9]);
    try (Batch batch = labelled(40, 0, 1, 7)) {
      TallyAccumulator acc = new TallyAccumulator(3);
      InvalidInputException e = assertThrows(InvalidInputException.class,
          () -> acc.add(logits, batch, null));
      assertEquals("label row 42 has label 7, outside [0, 3): the model has 3 output classes",
          e.getMessage());
      assertEquals(Tally.empty(3), acc.toTally());
    }
    try (Batch batch = labelled(0, -1)) {
      assertThrows(InvalidInputException.class,
          () -> new TallyAccumulator(3).add(new Logits(1, 3, new float[3]), batch, null));
    }
  }

  @Test
  void mergingInAnyOrderAndGroupingIsBitwiseIdentical() throws Exception {
    Random random = new Random(5);
    int classes = 10;
    List<Tally> parts = new ArrayList<>();
    TallyAccumulator all = new TallyAccumulator(classes);
    for (int b = 0; b < 12; b++) {
      int rows = 1 + random.nextInt(40);
      int[] labels = new int[rows];
      float[] values = new float[rows * classes];
      float[] denseValues = new float[rows * classes];
      for (int r = 0; r < rows; r++) {
        labels[r] = random.nextInt(classes);
      }
      for (int i = 0; i < values.length; i++) {
        denseValues[i] = (float) (random.nextGaussian() * 4);
        values[i] = denseValues[i] + (float) (random.nextGaussian() * 0.5);
      }
      Logits logits = new Logits(rows, classes, values);
      Logits dense = new Logits(rows, classes, denseValues);
      try (Batch batch = labelled(0, labels)) {
        parts.add(new TallyAccumulator(classes).add(logits, batch, dense).toTally());
        all.add(logits, batch, dense);
      }
    }
    Tally expected = all.toTally();
    Metrics expectedMetrics = expected.metrics();
    for (int trial = 0; trial < 30; trial++) {
      List<Tally> pool = new ArrayList<>(parts);
      Collections.shuffle(pool, random);
      while (pool.size() > 1) {
        Tally a = pool.remove(random.nextInt(pool.size()));
        Tally b = pool.remove(random.nextInt(pool.size()));
        pool.add(a.merge(b));
      }
      Tally merged = pool.get(0);
      assertEquals(expected, merged);
      assertEquals(expected.hashCode(), merged.hashCode());
      Metrics m = merged.metrics();
      for (String name : Metrics.NAMES) {
        assertEquals(Double.doubleToRawLongBits(expectedMetrics.get(name)),
            Double.doubleToRawLongBits(m.get(name)), name);
      }
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(expected);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(expected, in.readObject());
    }
    assertEquals(expected, expected.merge(Tally.empty(classes)));
    assertThrows(IllegalArgumentException.class, () -> expected.merge(Tally.empty(3)));
  }
}
