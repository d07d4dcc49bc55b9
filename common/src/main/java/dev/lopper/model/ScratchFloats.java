package dev.lopper.model;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A direct, native-order float buffer whose memory goes back to the system when it is closed, not
 * when the garbage collector next finds it unreachable.
 *
 * <p>Direct buffers are freed by a cleaner that runs only after a collection of the Java heap;
 * a sweep that makes a 268 MB masked copy per large tensor and allocates little on the heap kept
 * them all (resident memory grew from 1.9 to 7.0 GB over the 805 MB model's sweep, docs/benchmarks.md).
 * A scratch buffer is for memory whose end is known: the caller closes it once nothing reads it
 * any more — ONNX Runtime tensors wrapping it closed, no {@link WeightTensor} over it kept —
 * because a read after {@link #close()} reads freed memory.
 *
 * <p>Freeing uses {@code sun.misc.Unsafe.invokeCleaner} (module {@code jdk.unsupported}, as Spark
 * and Netty do); where that is not available, closing only drops the reference and the collector
 * frees the memory as before.
 *
 * <pre>{@code
 * try (ScratchFloats scratch = new ScratchFloats(mask.size())) {
 *   WeightTensor masked = mask.apply(dense, scratch.floats());
 *   ... // runs that read masked; their tensors closed
 * }
 * }</pre>
 */
public final class ScratchFloats implements AutoCloseable {

  private static final MethodHandle INVOKE_CLEANER = invokeCleaner();

  private ByteBuffer bytes;
  private final FloatBuffer floats;

  /** A zeroed buffer of {@code count} floats. */
  public ScratchFloats(long count) {
    if (count > Integer.MAX_VALUE / Float.BYTES) {
      throw new IllegalArgumentException("tensor of " + count + " floats exceeds 2 GiB");
    }
    bytes = ByteBuffer.allocateDirect((int) count * Float.BYTES).order(ByteOrder.nativeOrder());
    floats = bytes.asFloatBuffer();
  }

  /** The buffer: direct, native order, {@code count} floats from position 0. */
  public FloatBuffer floats() {
    if (bytes == null) {
      throw new IllegalStateException("scratch buffer used after close");
    }
    return floats;
  }

  /** True when the memory is given back on {@link #close()}, not left to the collector. */
  public static boolean freesOnClose() {
    return INVOKE_CLEANER != null;
  }

  /** Gives the memory back; later calls do nothing. */
  @Override
  public synchronized void close() {
    ByteBuffer b = bytes;
    bytes = null;
    if (b != null && INVOKE_CLEANER != null) {
      try {
        INVOKE_CLEANER.invoke(b);
      } catch (Throwable e) {
        throw new IllegalStateException("could not free a direct buffer: " + e, e);
      }
    }
  }

  private static MethodHandle invokeCleaner() {
    try {
      Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
      Field field = unsafeClass.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      Object unsafe = field.get(null);
      return MethodHandles.lookup()
          .findVirtual(unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
          .bindTo(unsafe);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }
}
