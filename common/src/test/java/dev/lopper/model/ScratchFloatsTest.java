package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class ScratchFloatsTest {

  private static long directBytes() {
    return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed)
        .sum();
  }

  @Test
  void isADirectZeroedBufferThatATensorCanUse() {
    try (ScratchFloats scratch = new ScratchFloats(1000)) {
      FloatBuffer f = scratch.floats();
      assertTrue(f.isDirect());
      assertEquals(ByteOrder.nativeOrder(), f.order());
      assertEquals(1000, f.capacity());
      for (int i = 0; i < 1000; i++) {
        assertEquals(0f, f.get(i));
      }
      WeightTensor t = new WeightTensor("w", new long[] {10, 100}, f.put(7, 2f));
      assertEquals(2f, t.data().get(7));
    }
  }

  /** Closing gives the memory back at once, without a garbage collection. */
  @Test
  void closingFreesTheMemoryWithoutACollection() {
    assertTrue(ScratchFloats.freesOnClose(), "this JVM should allow freeing direct buffers");
    // Buffers of earlier tests may be freed by the collector's cleaner thread at any moment, so
    // the pool moves by a little on its own (198 KB in one CI run): 64 MB up, 64 MB down, within
    // 4 MB. Without freeing on close the second step would not move at all.
    long slack = 4L << 20;
    long before = directBytes();
    ScratchFloats scratch = new ScratchFloats(16L << 20);
    long allocated = directBytes();
    assertEquals(64L << 20, allocated - before, slack);
    scratch.close();
    assertEquals(64L << 20, allocated - directBytes(), slack);
    scratch.close(); // again: nothing
    assertThrows(IllegalStateException.class, scratch::floats);
  }
}
