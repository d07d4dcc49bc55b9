package dev.lopper.eval;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One inner value of the dense model for one batch (a cut value), held in a direct buffer of
 * ours so that it outlives the run that made it and needs no closing: the garbage collector frees
 * it with the last reference.
 *
 * @param shape the value's dimensions, the batch's rows first
 * @param type its element type
 * @param data its elements, native order, positioned at 0
 */
record Activation(long[] shape, OnnxJavaType type, ByteBuffer data) {

  /** A zeroed activation of {@code shape}. */
  static Activation allocate(long[] shape, OnnxJavaType type) {
    long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    long bytes = Math.multiplyExact(count, type.size);
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalStateException("an activation of shape " + Arrays.toString(shape)
          + " is larger than 2 GiB; use smaller batches");
    }
    return new Activation(shape.clone(), type,
        ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder()));
  }

  /** A copy of an ONNX Runtime output. */
  static Activation copyOf(OnnxTensor tensor) {
    Activation a = allocate(tensor.getInfo().getShape(), tensor.getInfo().type);
    a.data.duplicate().put(tensor.getByteBuffer());
    return a;
  }

  /** Bytes held. */
  long bytes() {
    return data.capacity();
  }

  /** An ONNX Runtime tensor reading (or, as a pinned output, writing) the buffer in place. */
  OnnxTensor wrap(OrtEnvironment env) {
    try {
      return OnnxTensor.createTensor(env, data.duplicate().order(ByteOrder.nativeOrder()), shape, type);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused an activation of shape "
          + Arrays.toString(shape) + ": " + e.getMessage(), e);
    }
  }
}
