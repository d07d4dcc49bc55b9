package dev.lopper.structure;

import static dev.lopper.structure.NodeAttributes.input;

import java.util.Arrays;
import java.util.Map;
import onnx.Onnx;

/**
 * Evaluates the small integer computations that exporters use to build a dynamic Reshape's shape:
 * {@code Shape} of a value whose shape is known, {@code Gather}, {@code Unsqueeze}, {@code
 * Squeeze}, {@code Concat}, integer {@code Cast}, {@code Identity}, {@code Range} and integer
 * Add/Sub/Mul/Div of such values. Everything is flat: a value is its elements in order, its shape is
 * kept by {@link ShapeInference}.
 */
final class IntegerValues {
  /** Above this many elements a value is not evaluated (a shape vector is short). */
  private static final int LIMIT = 4096;

  private IntegerValues() {}

  /**
   * The integer elements of {@code node}'s first output, or null when they do not follow from
   * known values.
   */
  static long[] evaluate(Onnx.NodeProto node, Map<String, long[]> shapes, Map<String, long[]> values) {
    long[] a = values.get(input(node, 0));
    long[] out = switch (node.getOpType()) {
      case "Shape" -> shape(node, shapes.get(input(node, 0)));
      case "Identity", "Squeeze", "Unsqueeze" -> a == null ? null : a.clone();
      case "Cast" -> {
        long to = NodeAttributes.integer(node, "to", 0);
        boolean integer = to == Onnx.TensorProto.DataType.INT64_VALUE || to == Onnx.TensorProto.DataType.INT32_VALUE;
        yield integer && a != null ? a.clone() : null;
      }
      case "Gather" -> gather(node, a, shapes.get(input(node, 0)), values.get(input(node, 1)));
      case "Concat" -> concat(node, values);
      case "Range" -> range(a, values.get(input(node, 1)), values.get(input(node, 2)));
      case "Add", "Sub", "Mul", "Div" -> arithmetic(node.getOpType(), a, values.get(input(node, 1)));
      default -> null;
    };
    return out != null && out.length <= LIMIT ? out : null;
  }

  private static long[] shape(Onnx.NodeProto node, long[] shape) {
    if (shape == null) {
      return null;
    }
    int rank = shape.length;
    long start = NodeAttributes.integer(node, "start", 0);
    long end = NodeAttributes.integer(node, "end", rank);
    start = Math.max(0, Math.min(rank, start < 0 ? start + rank : start));
    end = Math.max(0, Math.min(rank, end < 0 ? end + rank : end));
    return Arrays.copyOfRange(shape, (int) start, (int) Math.max(start, end));
  }

  private static long[] gather(Onnx.NodeProto node, long[] data, long[] dataShape, long[] indices) {
    if (data == null || indices == null || dataShape == null || dataShape.length != 1) {
      return null;
    }
    long[] out = new long[indices.length];
    for (int i = 0; i < indices.length; i++) {
      long k = indices[i] < 0 ? indices[i] + data.length : indices[i];
      if (k < 0 || k >= data.length) {
        throw new IllegalArgumentException("node " + NodeAttributes.describe(node) + ": index "
            + indices[i] + " outside " + Arrays.toString(data));
      }
      out[i] = data[(int) k];
    }
    return out;
  }

  private static long[] concat(Onnx.NodeProto node, Map<String, long[]> values) {
    long[] out = new long[0];
    for (String in : node.getInputList()) {
      long[] v = values.get(in);
      if (v == null) {
        return null;
      }
      long[] next = Arrays.copyOf(out, out.length + v.length);
      System.arraycopy(v, 0, next, out.length, v.length);
      out = next;
    }
    return out;
  }

  private static long[] range(long[] start, long[] limit, long[] delta) {
    if (start == null || limit == null || delta == null || start.length != 1 || limit.length != 1
        || delta.length != 1 || delta[0] == 0) {
      return null;
    }
    long n = Math.max(0, Math.floorDiv(limit[0] - start[0] + delta[0] - Long.signum(delta[0]), delta[0]));
    if (n > LIMIT) {
      return null;
    }
    long[] out = new long[(int) n];
    for (int i = 0; i < n; i++) {
      out[i] = start[0] + i * delta[0];
    }
    return out;
  }

  private static long[] arithmetic(String op, long[] a, long[] b) {
    if (a == null || b == null || (a.length != b.length && a.length != 1 && b.length != 1)) {
      return null;
    }
    long[] out = new long[Math.max(a.length, b.length)];
    for (int i = 0; i < out.length; i++) {
      long x = a[a.length == 1 ? 0 : i];
      long y = b[b.length == 1 ? 0 : i];
      switch (op) {
        case "Add" -> out[i] = x + y;
        case "Sub" -> out[i] = x - y;
        case "Mul" -> out[i] = x * y;
        default -> {
          if (y == 0) {
            return null;
          }
          out[i] = Math.floorDiv(x, y);
        }
      }
    }
    return out;
  }
}
