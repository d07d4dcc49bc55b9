package dev.lopper.eval;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import dev.lopper.calibration.CapturedValue;
import java.io.Serial;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import onnx.Onnx;

/**
 * A value of a model for one batch, of any tensor type, held between ONNX Runtime sessions and
 * across Spark stages: sequential calibration keeps each chunk's frontier values ({@link
 * GraphSegments}) in one of these until the next step reads them. Serializable; the elements are
 * little-endian bytes, row-major.
 */
public final class HeldValue implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private final String name;
  private final TensorInfo.OnnxTensorType type;
  private final long[] shape;
  private final byte[] bytes;

  private HeldValue(String name, TensorInfo.OnnxTensorType type, long[] shape, byte[] bytes) {
    this.name = name;
    this.type = type;
    this.shape = shape;
    this.bytes = bytes;
  }

  /**
   * A copy of an ONNX Runtime tensor.
   *
   * @throws IllegalStateException for a string tensor, which is not held
   */
  static HeldValue of(String name, OnnxTensor tensor) {
    TensorInfo info = tensor.getInfo();
    if (info.type == OnnxJavaType.STRING || info.type == OnnxJavaType.UNKNOWN) {
      throw new IllegalStateException("value " + name + " is " + info + "; only numeric tensors are held between"
          + " sessions");
    }
    ByteBuffer data = tensor.getByteBuffer();
    if (data.order() != ByteOrder.LITTLE_ENDIAN) {
      throw new IllegalStateException("ONNX Runtime gave value " + name + " in " + data.order() + " order");
    }
    byte[] bytes = new byte[data.remaining()];
    data.get(bytes);
    return new HeldValue(name, info.onnxType, info.getShape(), bytes);
  }

  /** The graph value's name. */
  public String name() {
    return name;
  }

  /** Its dimensions. */
  public long[] shape() {
    return shape.clone();
  }

  /** Bytes its elements take. */
  public long byteSize() {
    return bytes.length;
  }

  /** An ONNX Runtime tensor of a copy of the elements; the caller closes it. */
  OnnxTensor tensor(OrtEnvironment env) {
    ByteBuffer data = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.LITTLE_ENDIAN);
    data.put(bytes).rewind();
    try {
      return OnnxTensor.createTensor(env, data, shape, OnnxJavaType.mapFromOnnxTensorType(type));
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime refused held value " + this + ": " + e.getMessage(), e);
    }
  }

  /** Its type as a graph input's: the element type and rank, every dimension left open. */
  Onnx.TypeProto type() {
    long[] open = new long[shape.length];
    Arrays.fill(open, -1);
    return Evaluator.typeProto(name, type, open, new String[0]);
  }

  /**
   * The value as calibration statistics read it.
   *
   * @throws IllegalStateException when it is not float32
   */
  public CapturedValue captured() {
    if (type != TensorInfo.OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
      throw new IllegalStateException("value " + this + " is not float32; calibration captures float32 tensors");
    }
    return new CapturedValue(name, shape, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
  }

  /** Whether {@code other} has this value's type, shape and bytes. */
  public boolean bitwiseEquals(HeldValue other) {
    return type == other.type && Arrays.equals(shape, other.shape) && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public String toString() {
    return name + " " + type.name().substring("ONNX_TENSOR_ELEMENT_DATA_TYPE_".length()) + Arrays.toString(shape);
  }
}
