package dev.lopper.structure;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;
import onnx.Onnx;

/** Reading ONNX node attributes and small integer constants. */
final class NodeAttributes {
  private NodeAttributes() {}

  static Optional<Onnx.AttributeProto> find(Onnx.NodeProto node, String name) {
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals(name)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }

  static long integer(Onnx.NodeProto node, String name, long fallback) {
    return find(node, name).map(Onnx.AttributeProto::getI).orElse(fallback);
  }

  /** The INTS attribute {@code name}, or null when absent. */
  static long[] integers(Onnx.NodeProto node, String name) {
    return find(node, name).map(a -> a.getIntsList().stream().mapToLong(Long::longValue).toArray())
        .orElse(null);
  }

  static String string(Onnx.NodeProto node, String name, String fallback) {
    return find(node, name).map(a -> a.getS().toStringUtf8()).orElse(fallback);
  }

  /** The node's name, or its first output when it has none. */
  static String nodeName(Onnx.NodeProto node) {
    if (!node.getName().isEmpty()) {
      return node.getName();
    }
    return node.getOutputCount() > 0 ? node.getOutput(0) : node.getOpType();
  }

  /** "name (Op)", for messages. */
  static String describe(Onnx.NodeProto node) {
    return nodeName(node) + " (" + node.getOpType() + ")";
  }

  /** The input at {@code index}, or "" when the node has fewer inputs (ONNX's empty input). */
  static String input(Onnx.NodeProto node, int index) {
    return index < node.getInputCount() ? node.getInput(index) : "";
  }

  /** The values of an INT64 or INT32 tensor, or null for any other type. */
  static long[] integerValues(Onnx.TensorProto t) {
    int type = t.getDataType();
    if (type == Onnx.TensorProto.DataType.INT64_VALUE) {
      if (!t.getRawData().isEmpty()) {
        ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[b.remaining() / Long.BYTES];
        for (int i = 0; i < out.length; i++) {
          out[i] = b.getLong();
        }
        return out;
      }
      return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
    }
    if (type == Onnx.TensorProto.DataType.INT32_VALUE) {
      if (!t.getRawData().isEmpty()) {
        ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[b.remaining() / Integer.BYTES];
        for (int i = 0; i < out.length; i++) {
          out[i] = b.getInt();
        }
        return out;
      }
      return t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
    }
    return null;
  }

  static long[] dims(Onnx.TensorProto t) {
    return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  static long product(long[] dims, int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) {
      p = Math.multiplyExact(p, dims[i]);
    }
    return p;
  }

  static List<String> outputs(Onnx.NodeProto node) {
    return node.getOutputList();
  }
}
