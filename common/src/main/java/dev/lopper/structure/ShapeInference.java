package dev.lopper.structure;

import static dev.lopper.structure.NodeAttributes.describe;
import static dev.lopper.structure.NodeAttributes.input;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import onnx.Onnx;

/**
 * Static shapes of a graph's values for one batch size, computed from the graph inputs' shapes and
 * the initializers' dims by walking the nodes in order, for the ops structured pruning follows:
 * Conv, the pools, BatchNormalization, InstanceNormalization, element-wise ops with broadcasting,
 * Flatten, Gemm, MatMul, Concat, Reshape and Squeeze/Unsqueeze with constant shapes, Transpose,
 * Softmax and the unary activations. A value that an unknown op produces, or that depends on one,
 * has no shape in the result; nothing is guessed.
 *
 * <p>It also checks what it computes: a Conv whose weight does not match its input's channels, a
 * Gemm or MatMul whose inner dimensions differ, operands that do not broadcast, a BatchNormalization
 * parameter of the wrong size or a Concat of mismatched shapes is an {@link
 * IllegalArgumentException} naming the node. {@link ModelShrinker} relies on that to refuse a model
 * whose shapes it made inconsistent.
 *
 * <pre>{@code
 * Map<String, long[]> shapes = ShapeInference.infer(model.graph().getGraph(), 1);
 * long[] pooled = shapes.get("/pool/MaxPool_output_0");   // [1, 16, 4, 4]
 * }</pre>
 */
public final class ShapeInference {

  private static final java.util.Set<String> SAME_SHAPE = java.util.Set.of(
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Elu", "Selu", "Celu", "HardSigmoid",
      "HardSwish", "Softplus", "Softsign", "ThresholdedRelu", "Gelu", "Mish", "Abs", "Neg", "Exp",
      "Log", "Sqrt", "Reciprocal", "Erf", "Ceil", "Floor", "Round", "Sign", "Identity", "Cast",
      "Softmax", "LogSoftmax", "Hardmax", "LRN", "Not", "IsNaN", "Sin", "Cos");
  private static final java.util.Set<String> BROADCAST = java.util.Set.of(
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Equal", "Less",
      "Greater", "Where", "And", "Or");

  private ShapeInference() {}

  /**
   * The shapes of every value whose shape follows from the inputs, with each graph input's first
   * dimension set to {@code batch} when it is symbolic. Inputs with another symbolic dimension get
   * no shape (nor does anything computed from them).
   *
   * @throws IllegalArgumentException when a node's operands have inconsistent shapes
   */
  public static Map<String, long[]> infer(Onnx.GraphProto graph, long batch) {
    return infer(graph, batch, -1);
  }

  /**
   * Like {@link #infer(Onnx.GraphProto, long)}, with every other symbolic input dimension (a
   * transformer's sequence length) set to {@code sequence}. The small integer computations that
   * build a dynamic Reshape's shape (Shape, Gather, Unsqueeze, Concat, Cast, Range…) are evaluated
   * with these values, so a Reshape whose shape comes from {@code Shape(x)} gets a shape too.
   *
   * @param sequence the value of the other symbolic dimensions, or -1 to leave them unknown
   * @throws IllegalArgumentException when a node's operands have inconsistent shapes
   */
  public static Map<String, long[]> infer(Onnx.GraphProto graph, long batch, long sequence) {
    return inferWithValues(graph, batch, sequence).shapes();
  }

  /** Shapes, and the elements of every small integer value that could be evaluated. */
  record Inferred(Map<String, long[]> shapes, Map<String, long[]> values) {}

  static Inferred inferWithValues(Onnx.GraphProto graph, long batch, long sequence) {
    Map<String, long[]> shapes = new HashMap<>();
    Map<String, long[]> constants = new HashMap<>();
    for (Onnx.TensorProto t : graph.getInitializerList()) {
      shapes.put(t.getName(), NodeAttributes.dims(t));
      long[] values = NodeAttributes.integerValues(t);
      if (values != null) {
        constants.put(t.getName(), values);
      }
    }
    for (Onnx.ValueInfoProto input : graph.getInputList()) {
      if (shapes.containsKey(input.getName()) || !input.getType().hasTensorType()
          || !input.getType().getTensorType().hasShape()) {
        continue;
      }
      Onnx.TensorShapeProto shape = input.getType().getTensorType().getShape();
      long[] dims = new long[shape.getDimCount()];
      boolean known = true;
      for (int i = 0; i < dims.length; i++) {
        Onnx.TensorShapeProto.Dimension d = shape.getDim(i);
        if (d.hasDimValue() && d.getDimValue() > 0) {
          dims[i] = d.getDimValue();
        } else if (i == 0) {
          dims[i] = batch;
        } else if (sequence > 0) {
          dims[i] = sequence;
        } else {
          known = false;
        }
      }
      if (known) {
        shapes.put(input.getName(), dims);
      }
    }
    for (Onnx.NodeProto node : graph.getNodeList()) {
      infer(node, shapes, constants);
    }
    return new Inferred(shapes, constants);
  }

  private static void infer(Onnx.NodeProto node, Map<String, long[]> shapes, Map<String, long[]> constants) {
    String op = node.getOpType();
    if (op.equals("Constant")) {
      NodeAttributes.find(node, "value").ifPresent(a -> {
        shapes.put(node.getOutput(0), NodeAttributes.dims(a.getT()));
        long[] values = NodeAttributes.integerValues(a.getT());
        if (values != null) {
          constants.put(node.getOutput(0), values);
        }
      });
      return;
    }
    long[] x = node.getInputCount() > 0 ? shapes.get(node.getInput(0)) : null;
    if (x == null) {
      return;
    }
    if (op.equals("Split")) {
      split(node, x, constants).forEach(shapes::put);
      return;
    }
    long[] value = IntegerValues.evaluate(node, shapes, constants);
    if (value != null) {
      constants.put(node.getOutput(0), value);
    }
    long[] out = switch (op) {
      case "Conv" -> conv(node, x, shapes);
      case "MaxPool", "AveragePool", "LpPool" -> pool(node, x);
      case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool" -> globalPool(x);
      case "BatchNormalization", "InstanceNormalization" -> normalization(node, x, shapes);
      case "Flatten" -> flatten(node, x);
      case "Gemm" -> gemm(node, x, shapes);
      case "MatMul" -> matMul(node, x, shapes);
      case "Concat" -> concat(node, shapes);
      case "Reshape" -> reshape(node, x, constants);
      case "Transpose" -> transpose(node, x);
      case "Squeeze" -> squeeze(node, x, constants);
      case "Unsqueeze" -> unsqueeze(node, x, constants);
      case "Dropout" -> x.clone();
      case "Shape" -> new long[] {x.length};
      case "Gather" -> gather(node, x, shapes);
      case "Slice" -> slice(node, x, constants);
      case "Range" -> value == null ? null : new long[] {value.length};
      case "ConstantOfShape" -> constants.containsKey(input(node, 0)) ? constants.get(input(node, 0)).clone() : null;
      case "Trilu" -> x.clone();
      case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
          "ReduceSumSquare", "ReduceLogSumExp" -> reduce(node, x, constants);
      default -> {
        if (SAME_SHAPE.contains(op)) {
          yield x.clone();
        }
        if (BROADCAST.contains(op)) {
          yield broadcast(node, shapes);
        }
        yield null;
      }
    };
    if (out == null) {
      return;
    }
    shapes.put(node.getOutput(0), out);
    if (op.equals("Dropout") && node.getOutputCount() > 1 && !node.getOutput(1).isEmpty()) {
      shapes.put(node.getOutput(1), out.clone());
    }
    if (op.equals("MaxPool") && node.getOutputCount() > 1 && !node.getOutput(1).isEmpty()) {
      shapes.put(node.getOutput(1), out.clone());
    }
  }

  private static long[] conv(Onnx.NodeProto node, long[] x, Map<String, long[]> shapes) {
    long[] w = shapes.get(input(node, 1));
    if (w == null) {
      return null;
    }
    long group = NodeAttributes.integer(node, "group", 1);
    check(w.length == x.length && x.length >= 3, node, "input " + Arrays.toString(x)
        + " and weight " + Arrays.toString(w) + " must have the same rank, at least 3");
    check(w[1] * group == x[1], node, "input has " + x[1] + " channels, weight "
        + input(node, 1) + " " + Arrays.toString(w) + " with group " + group + " expects " + w[1] * group);
    check(w[0] % group == 0, node, "weight " + Arrays.toString(w) + " has " + w[0]
        + " output channels, not a multiple of group " + group);
    String bias = input(node, 2);
    if (!bias.isEmpty() && shapes.containsKey(bias)) {
      long[] b = shapes.get(bias);
      check(b.length == 1 && b[0] == w[0], node, "bias " + bias + " " + Arrays.toString(b)
          + " does not match " + w[0] + " output channels");
    }
    long[] kernel = Arrays.copyOfRange(w, 2, w.length);
    long[] out = spatial(node, x, kernel, false);
    out[1] = w[0];
    return out;
  }

  private static long[] pool(Onnx.NodeProto node, long[] x) {
    long[] kernel = NodeAttributes.integers(node, "kernel_shape");
    if (kernel == null || kernel.length != x.length - 2) {
      return null;
    }
    return spatial(node, x, kernel, NodeAttributes.integer(node, "ceil_mode", 0) != 0);
  }

  /** Output [N, C, spatial...] of a convolution or pool (C copied from x). */
  private static long[] spatial(Onnx.NodeProto node, long[] x, long[] kernel, boolean ceil) {
    int n = kernel.length;
    long[] strides = orDefault(NodeAttributes.integers(node, "strides"), n, 1);
    long[] dilations = orDefault(NodeAttributes.integers(node, "dilations"), n, 1);
    long[] pads = orDefault(NodeAttributes.integers(node, "pads"), 2 * n, 0);
    String autoPad = NodeAttributes.string(node, "auto_pad", "NOTSET");
    long[] out = x.clone();
    for (int i = 0; i < n; i++) {
      long in = x[i + 2];
      if (autoPad.equals("SAME_UPPER") || autoPad.equals("SAME_LOWER")) {
        out[i + 2] = Math.floorDiv(in + strides[i] - 1, strides[i]);
        continue;
      }
      long begin = autoPad.equals("VALID") ? 0 : pads[i];
      long end = autoPad.equals("VALID") ? 0 : pads[i + n];
      long span = in + begin + end - ((kernel[i] - 1) * dilations[i] + 1);
      check(span >= 0, node, "window " + kernel[i] + " (dilation " + dilations[i]
          + ") is larger than padded input " + (in + begin + end));
      long o = ceil ? Math.floorDiv(span + strides[i] - 1, strides[i]) + 1 : Math.floorDiv(span, strides[i]) + 1;
      if (ceil && (o - 1) * strides[i] >= in + begin) {
        o--; // the last window must start inside the input or its left padding
      }
      out[i + 2] = o;
    }
    return out;
  }

  private static long[] globalPool(long[] x) {
    long[] out = x.clone();
    for (int i = 2; i < out.length; i++) {
      out[i] = 1;
    }
    return out;
  }

  private static long[] normalization(Onnx.NodeProto node, long[] x, Map<String, long[]> shapes) {
    check(x.length >= 2, node, "input " + Arrays.toString(x) + " has no channel axis");
    int params = node.getOpType().equals("BatchNormalization") ? 5 : 3;
    for (int i = 1; i < Math.min(params, node.getInputCount()); i++) {
      long[] p = shapes.get(node.getInput(i));
      if (p != null) {
        check(p.length == 1 && p[0] == x[1], node, "parameter " + node.getInput(i) + " "
            + Arrays.toString(p) + " does not match " + x[1] + " channels");
      }
    }
    return x.clone();
  }

  private static long[] flatten(Onnx.NodeProto node, long[] x) {
    int axis = (int) NodeAttributes.integer(node, "axis", 1);
    if (axis < 0) {
      axis += x.length;
    }
    check(axis >= 0 && axis <= x.length, node, "axis " + axis + " outside rank " + x.length);
    return new long[] {NodeAttributes.product(x, 0, axis), NodeAttributes.product(x, axis, x.length)};
  }

  private static long[] gemm(Onnx.NodeProto node, long[] a, Map<String, long[]> shapes) {
    long[] b = shapes.get(input(node, 1));
    if (b == null) {
      return null;
    }
    check(a.length == 2 && b.length == 2, node, "operands " + Arrays.toString(a) + " and "
        + Arrays.toString(b) + " must be matrices");
    boolean transA = NodeAttributes.integer(node, "transA", 0) != 0;
    boolean transB = NodeAttributes.integer(node, "transB", 0) != 0;
    long m = transA ? a[1] : a[0];
    long k = transA ? a[0] : a[1];
    long kb = transB ? b[1] : b[0];
    long n = transB ? b[0] : b[1];
    check(k == kb, node, "A " + Arrays.toString(a) + (transA ? " (transposed)" : "") + " and B "
        + input(node, 1) + " " + Arrays.toString(b) + (transB ? " (transposed)" : "")
        + " have inner dimensions " + k + " and " + kb);
    long[] out = {m, n};
    long[] c = shapes.get(input(node, 2));
    if (c != null) {
      checkBroadcastsTo(node, c, out);
    }
    return out;
  }

  private static long[] matMul(Onnx.NodeProto node, long[] a, Map<String, long[]> shapes) {
    long[] b = shapes.get(input(node, 1));
    if (b == null) {
      return null;
    }
    long[] a2 = a.length == 1 ? new long[] {1, a[0]} : a;
    long[] b2 = b.length == 1 ? new long[] {b[0], 1} : b;
    long k = a2[a2.length - 1];
    long kb = b2[b2.length - 2];
    check(k == kb, node, "operands " + Arrays.toString(a) + " and " + input(node, 1) + " "
        + Arrays.toString(b) + " have inner dimensions " + k + " and " + kb);
    long[] batchA = Arrays.copyOf(a2, a2.length - 2);
    long[] batchB = Arrays.copyOf(b2, b2.length - 2);
    long[] batch = broadcastShapes(node, List.of(batchA, batchB));
    long[] out = Arrays.copyOf(batch, batch.length + 2);
    out[batch.length] = a2[a2.length - 2];
    out[batch.length + 1] = b2[b2.length - 1];
    if (a.length == 1 || b.length == 1) {
      // A promoted vector loses its dimension again.
      int drop = a.length == 1 ? out.length - 2 : out.length - 1;
      long[] squeezed = new long[out.length - 1];
      for (int i = 0, j = 0; i < out.length; i++) {
        if (i != drop) {
          squeezed[j++] = out[i];
        }
      }
      return squeezed;
    }
    return out;
  }

  private static long[] broadcast(Onnx.NodeProto node, Map<String, long[]> shapes) {
    java.util.List<long[]> operands = new java.util.ArrayList<>();
    for (String in : node.getInputList()) {
      long[] s = shapes.get(in);
      if (s == null) {
        return null;
      }
      operands.add(s);
    }
    if (node.getOpType().equals("PRelu")) {
      checkBroadcastsTo(node, operands.get(1), operands.get(0));
      return operands.get(0).clone();
    }
    return broadcastShapes(node, operands);
  }

  /** Numpy's multidirectional broadcast of {@code shapes}. */
  static long[] broadcastShapes(Onnx.NodeProto node, List<long[]> shapes) {
    int rank = 0;
    for (long[] s : shapes) {
      rank = Math.max(rank, s.length);
    }
    long[] out = new long[rank];
    Arrays.fill(out, 1);
    for (long[] s : shapes) {
      for (int i = 0; i < s.length; i++) {
        int o = rank - s.length + i;
        if (s[i] == 1) {
          continue;
        }
        check(out[o] == 1 || out[o] == s[i], node, "operand shapes "
            + shapes.stream().map(Arrays::toString).toList() + " do not broadcast (axis " + o + ")");
        out[o] = s[i];
      }
    }
    return out;
  }

  private static void checkBroadcastsTo(Onnx.NodeProto node, long[] from, long[] to) {
    boolean ok = from.length <= to.length;
    for (int i = 0; ok && i < from.length; i++) {
      long d = from[i];
      long t = to[to.length - from.length + i];
      ok = d == 1 || d == t;
    }
    check(ok, node, "operand " + Arrays.toString(from) + " does not broadcast to " + Arrays.toString(to));
  }

  private static long[] concat(Onnx.NodeProto node, Map<String, long[]> shapes) {
    long[] first = shapes.get(node.getInput(0));
    int axis = (int) NodeAttributes.integer(node, "axis", 0);
    if (axis < 0) {
      axis += first.length;
    }
    long[] out = first.clone();
    out[axis] = 0;
    for (String in : node.getInputList()) {
      long[] s = shapes.get(in);
      if (s == null) {
        return null;
      }
      check(s.length == first.length, node, "inputs have ranks " + first.length + " and " + s.length);
      for (int i = 0; i < s.length; i++) {
        if (i == axis) {
          out[i] += s[i];
        } else {
          check(s[i] == first[i], node, "inputs " + Arrays.toString(first) + " and "
              + Arrays.toString(s) + " differ outside the concatenation axis " + axis);
        }
      }
    }
    return out;
  }

  private static long[] reshape(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    long[] target = constants.get(input(node, 1));
    if (target == null) {
      return null;
    }
    boolean allowZero = NodeAttributes.integer(node, "allowzero", 0) != 0;
    long[] out = target.clone();
    int inferred = -1;
    long known = 1;
    for (int i = 0; i < out.length; i++) {
      if (out[i] == 0 && !allowZero) {
        check(i < x.length, node, "shape " + Arrays.toString(target) + " copies dimension " + i
            + " of " + Arrays.toString(x));
        out[i] = x[i];
      }
      if (out[i] == -1) {
        check(inferred < 0, node, "shape " + Arrays.toString(target) + " has two -1");
        inferred = i;
      } else {
        known = Math.multiplyExact(known, out[i]);
      }
    }
    long total = NodeAttributes.product(x, 0, x.length);
    if (inferred >= 0) {
      check(known != 0 && total % known == 0, node, "cannot reshape " + Arrays.toString(x)
          + " to " + Arrays.toString(target));
      out[inferred] = total / known;
    } else {
      check(known == total, node, "cannot reshape " + Arrays.toString(x) + " to " + Arrays.toString(target));
    }
    return out;
  }

  private static long[] transpose(Onnx.NodeProto node, long[] x) {
    long[] perm = NodeAttributes.integers(node, "perm");
    long[] out = new long[x.length];
    for (int i = 0; i < x.length; i++) {
      int from = perm == null ? x.length - 1 - i : (int) perm[i];
      check(from >= 0 && from < x.length, node, "perm " + Arrays.toString(perm) + " outside rank " + x.length);
      out[i] = x[from];
    }
    return out;
  }

  /** The shape of every output of a Split (sizes from input 1, the attribute, or equal parts). */
  private static Map<String, long[]> split(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    int axis = (int) NodeAttributes.integer(node, "axis", 0);
    if (axis < 0) {
      axis += x.length;
    }
    check(axis >= 0 && axis < x.length, node, "axis " + axis + " outside rank " + x.length);
    int parts = node.getOutputCount();
    long[] sizes = input(node, 1).isEmpty() ? NodeAttributes.integers(node, "split") : constants.get(input(node, 1));
    if (sizes == null && !input(node, 1).isEmpty()) {
      return Map.of();
    }
    if (sizes == null) {
      check(x[axis] % parts == 0, node, "axis " + axis + " of " + Arrays.toString(x) + " does not split into "
          + parts + " equal parts");
      sizes = new long[parts];
      Arrays.fill(sizes, x[axis] / parts);
    }
    check(sizes.length == parts && Arrays.stream(sizes).sum() == x[axis], node, "split sizes "
        + Arrays.toString(sizes) + " do not cut axis " + axis + " of " + Arrays.toString(x) + " into " + parts);
    Map<String, long[]> out = new HashMap<>();
    for (int k = 0; k < parts; k++) {
      long[] s = x.clone();
      s[axis] = sizes[k];
      out.put(node.getOutput(k), s);
    }
    return out;
  }

  private static long[] gather(Onnx.NodeProto node, long[] data, Map<String, long[]> shapes) {
    long[] indices = shapes.get(input(node, 1));
    if (indices == null) {
      return null;
    }
    int axis = (int) NodeAttributes.integer(node, "axis", 0);
    if (axis < 0) {
      axis += data.length;
    }
    check(axis >= 0 && axis < data.length, node, "axis " + axis + " outside rank " + data.length);
    long[] out = new long[data.length - 1 + indices.length];
    System.arraycopy(data, 0, out, 0, axis);
    System.arraycopy(indices, 0, out, axis, indices.length);
    System.arraycopy(data, axis + 1, out, axis + indices.length, data.length - axis - 1);
    return out;
  }

  /** Slice with constant starts, ends, axes and steps (inputs from opset 10, attributes before). */
  private static long[] slice(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    long[] starts = node.getInputCount() > 1 ? constants.get(input(node, 1)) : NodeAttributes.integers(node, "starts");
    long[] ends = node.getInputCount() > 1 ? constants.get(input(node, 2)) : NodeAttributes.integers(node, "ends");
    long[] axes = node.getInputCount() > 1 ? (input(node, 3).isEmpty() ? null : constants.get(input(node, 3)))
        : NodeAttributes.integers(node, "axes");
    long[] steps = input(node, 4).isEmpty() ? null : constants.get(input(node, 4));
    if (starts == null || ends == null || (!input(node, 3).isEmpty() && axes == null)
        || (!input(node, 4).isEmpty() && steps == null)) {
      return null;
    }
    long[] out = x.clone();
    for (int i = 0; i < starts.length; i++) {
      int axis = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + x.length : axes[i]);
      long step = steps == null ? 1 : steps[i];
      check(axis >= 0 && axis < x.length && step != 0, node, "bad axis " + axis + " or step " + step);
      long n = x[axis];
      long begin = clamp(starts[i] < 0 ? starts[i] + n : starts[i], step > 0 ? 0 : -1, step > 0 ? n : n - 1);
      long end = clamp(ends[i] < 0 ? ends[i] + n : ends[i], step > 0 ? 0 : -1, step > 0 ? n : n - 1);
      out[axis] = step > 0 ? Math.max(0, Math.floorDiv(end - begin + step - 1, step))
          : Math.max(0, Math.floorDiv(begin - end - step - 1, -step));
    }
    return out;
  }

  private static long clamp(long v, long low, long high) {
    return Math.max(low, Math.min(high, v));
  }

  private static long[] reduce(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    long[] axes = axes(node, constants);
    boolean keep = NodeAttributes.integer(node, "keepdims", 1) != 0;
    java.util.Set<Integer> reduced = new java.util.HashSet<>();
    if (axes == null || axes.length == 0) {
      if (NodeAttributes.integer(node, "noop_with_empty_axes", 0) != 0) {
        return x.clone();
      }
      for (int i = 0; i < x.length; i++) {
        reduced.add(i);
      }
    } else {
      for (long a : axes) {
        reduced.add((int) (a < 0 ? a + x.length : a));
      }
    }
    java.util.List<Long> out = new java.util.ArrayList<>();
    for (int i = 0; i < x.length; i++) {
      if (!reduced.contains(i)) {
        out.add(x[i]);
      } else if (keep) {
        out.add(1L);
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static long[] axes(Onnx.NodeProto node, Map<String, long[]> constants) {
    long[] axes = NodeAttributes.integers(node, "axes");
    if (axes == null && node.getInputCount() > 1) {
      axes = constants.get(node.getInput(1));
    }
    return axes;
  }

  private static long[] squeeze(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    long[] axes = axes(node, constants);
    java.util.List<Long> out = new java.util.ArrayList<>();
    java.util.Set<Integer> drop = new java.util.HashSet<>();
    if (axes != null) {
      for (long a : axes) {
        int axis = (int) (a < 0 ? a + x.length : a);
        check(axis >= 0 && axis < x.length && x[axis] == 1, node, "cannot squeeze axis " + a
            + " of " + Arrays.toString(x));
        drop.add(axis);
      }
    }
    for (int i = 0; i < x.length; i++) {
      if (axes == null ? x[i] != 1 : !drop.contains(i)) {
        out.add(x[i]);
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static long[] unsqueeze(Onnx.NodeProto node, long[] x, Map<String, long[]> constants) {
    long[] axes = axes(node, constants);
    if (axes == null) {
      return null;
    }
    int rank = x.length + axes.length;
    boolean[] inserted = new boolean[rank];
    for (long a : axes) {
      int axis = (int) (a < 0 ? a + rank : a);
      check(axis >= 0 && axis < rank && !inserted[axis], node, "bad axes " + Arrays.toString(axes));
      inserted[axis] = true;
    }
    long[] out = new long[rank];
    for (int i = 0, j = 0; i < rank; i++) {
      out[i] = inserted[i] ? 1 : x[j++];
    }
    return out;
  }

  private static long[] orDefault(long[] values, int n, long fallback) {
    if (values != null && values.length == n) {
      return values;
    }
    long[] out = new long[n];
    Arrays.fill(out, fallback);
    return out;
  }

  private static void check(boolean ok, Onnx.NodeProto node, String message) {
    if (!ok) {
      throw new IllegalArgumentException("node " + describe(node) + ": " + message);
    }
  }
}
