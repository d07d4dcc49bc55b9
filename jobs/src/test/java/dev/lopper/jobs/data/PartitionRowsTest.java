package dev.lopper.jobs.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.data.Batch;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

/** Batches of one partition's decoded feature rows. */
class PartitionRowsTest {
  private static final float[] FEATURES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  /**
   * Rows without labels (data.label null, or calibration data, which is read inputs only) make
   * unlabelled batches; naming their label column used to throw a NullPointerException in every task.
   */
  @Test
  void batchesRowsWithoutLabels() {
    PartitionRows rows = new PartitionRows(0, 5, 2, FEATURES, null, DataChecks.NONE);
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Batch> batches = rows.batches(1, 5, new long[] {2}, 3, "features", null, allocator);
      try {
        assertEquals(List.of(3, 1), batches.stream().map(Batch::rows).toList());
        assertFalse(batches.get(0).hasLabels());
        assertEquals(2f, batches.get(0).features().get(0));
        assertEquals(8f, batches.get(1).features().get(0));
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  @Test
  void batchesLabelledRowsWithTheirLabels() {
    PartitionRows rows = new PartitionRows(0, 5, 2, FEATURES, new int[] {4, 3, 2, 1, 0}, DataChecks.NONE);
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Batch> batches = rows.batches(0, 5, new long[] {2}, 4, "features", "label", allocator);
      try {
        assertTrue(batches.get(0).hasLabels());
        assertEquals(3, batches.get(0).label(1));
        assertEquals(0, batches.get(1).label(0));
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }
}
