package dev.lopper.calibration;

import dev.lopper.InvalidInputException;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import onnx.Onnx;

/**
 * Which activation a prunable tensor's calibration statistics come from: the value its consumer
 * multiplies it with, and how that value's elements become samples of {@link #dim()} channels, one
 * channel per input column of the weight as PyTorch lays it out ({@code [out, in]}, a Conv's
 * {@code [out, in·kh·kw]}).
 *
 * <ul>
 *   <li>MatMul {@code X·W} and Gemm {@code A·B} with the weight as B: the other input, {@link
 *       Layout#ROWS} (every leading axis flattened into samples, the last axis the channel), or
 *       {@link Layout#COLUMNS} when Gemm transposes A ({@code transA = 1}).
 *   <li>MatMul {@code W·X} and Gemm with the weight as A: the other input's columns are the
 *       samples ({@link Layout#COLUMNS}), its rows when Gemm transposes it.
 *   <li>Conv (2-D, {@code group = 1}): input X as im2col patches ({@link Layout#PATCHES}), exactly
 *       as {@code torch.nn.functional.unfold} makes them: one sample per output position of every
 *       image, columns ordered channel, kernel row, kernel column, zero padding included.
 * </ul>
 *
 * Tensors that share a consumer input (the query, key and value projections of one attention
 * block) share one ConsumerInput: statistics are kept per {@link #key()} and mapped to tensors by
 * {@link ConsumerInputs}.
 *
 * @param value the name of the graph value (an inner value or a graph input) the samples come from
 * @param layout how the value's elements become samples
 * @param dim the number of channels of a sample (the weight's input dimension)
 * @param patches the Conv's geometry for {@link Layout#PATCHES}, null otherwise
 */
public record ConsumerInput(String value, Layout layout, int dim, Patches patches) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Ops between a weight and its consumer that only lay its elements out (as PrunableTensors). */
  private static final Set<String> PASS_THROUGH = Set.of("Transpose", "Cast", "Reshape", "Identity");

  /** How a value's elements become samples. */
  public enum Layout {
    /** The last axis is the channel; every other index is a sample, in row-major order. */
    ROWS,
    /** The second-to-last axis is the channel; every other index is a sample, in row-major order. */
    COLUMNS,
    /** The value is a Conv input {@code [images, C, H, W]}; samples are its im2col patches. */
    PATCHES,
  }

  /** Conv auto_pad values. */
  public enum AutoPad { NOTSET, VALID, SAME_UPPER, SAME_LOWER }

  /**
   * A 2-D convolution's geometry, as ONNX states it.
   *
   * @param kernelH kernel rows
   * @param kernelW kernel columns
   * @param strideH vertical stride
   * @param strideW horizontal stride
   * @param dilationH vertical dilation
   * @param dilationW horizontal dilation
   * @param padTop zero rows above (explicit pads; ignored unless autoPad is NOTSET)
   * @param padLeft zero columns to the left
   * @param padBottom zero rows below
   * @param padRight zero columns to the right
   * @param autoPad ONNX's auto_pad
   */
  public record Patches(int kernelH, int kernelW, int strideH, int strideW, int dilationH, int dilationW,
      int padTop, int padLeft, int padBottom, int padRight, AutoPad autoPad) implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    public Patches {
      if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1
          || padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
        throw new IllegalArgumentException("Conv geometry out of range: " + this);
      }
      Objects.requireNonNull(autoPad, "autoPad");
    }

    /**
     * The pads {@code [top, left, bottom, right]} for an input of {@code height × width}: the
     * explicit ones, none for VALID, or SAME's (extra padding at the end for SAME_UPPER, at the
     * start for SAME_LOWER).
     */
    public int[] pads(int height, int width) {
      return switch (autoPad) {
        case NOTSET -> new int[] {padTop, padLeft, padBottom, padRight};
        case VALID -> new int[4];
        case SAME_UPPER, SAME_LOWER -> {
          int h = samePad(height, strideH, kernelH, dilationH);
          int w = samePad(width, strideW, kernelW, dilationW);
          boolean upper = autoPad == AutoPad.SAME_UPPER;
          yield new int[] {upper ? h / 2 : h - h / 2, upper ? w / 2 : w - w / 2,
              upper ? h - h / 2 : h / 2, upper ? w - w / 2 : w / 2};
        }
      };
    }

    private static int samePad(int size, int stride, int kernel, int dilation) {
      int out = (size + stride - 1) / stride;
      return Math.max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size);
    }

    /** Output rows of an input of {@code height} rows padded by {@code pads}. */
    int outputHeight(int height, int[] pads) {
      return (height + pads[0] + pads[2] - (kernelH - 1) * dilationH - 1) / strideH + 1;
    }

    /** Output columns of an input of {@code width} columns padded by {@code pads}. */
    int outputWidth(int width, int[] pads) {
      return (width + pads[1] + pads[3] - (kernelW - 1) * dilationW - 1) / strideW + 1;
    }

    @Override
    public String toString() {
      return kernelH + "x" + kernelW + ", stride " + strideH + "x" + strideW + ", dilation " + dilationH + "x"
          + dilationW + (autoPad == AutoPad.NOTSET
              ? ", pads " + padTop + "," + padLeft + "," + padBottom + "," + padRight : ", auto_pad " + autoPad);
    }
  }

  public ConsumerInput {
    Objects.requireNonNull(value, "value");
    Objects.requireNonNull(layout, "layout");
    if (dim < 1) {
      throw new IllegalArgumentException("value " + value + ": " + dim + " channels");
    }
    if ((layout == Layout.PATCHES) != (patches != null)) {
      throw new IllegalArgumentException("value " + value + ": Conv geometry " + patches + " with layout " + layout);
    }
  }

  /**
   * The key statistics are kept under: the value's name when its rows are the samples, else the
   * name and how samples are made of it (a value read as im2col patches by two Convs of different
   * geometry gives two sets of statistics).
   */
  public String key() {
    return switch (layout) {
      case ROWS -> value;
      case COLUMNS -> value + " (columns)";
      case PATCHES -> value + " (patches " + patches + ")";
    };
  }

  /**
   * The input of {@code tensor}'s consumer in {@code model}.
   *
   * @throws InvalidInputException when the consumer is of a kind activation-aware criteria do not
   *     support (a grouped or non-2-D Conv, a weight that is not a matrix), naming the tensor and
   *     node
   * @throws IllegalArgumentException when no node of the model consumes the tensor as described
   */
  public static ConsumerInput of(OnnxModel model, PrunableTensor tensor) {
    Onnx.NodeProto node = consumer(model, tensor);
    long[] shape = tensor.shape();
    String where = model.source().onnxPath() + ": tensor " + tensor.name() + " (input " + tensor.inputIndex()
        + " of " + tensor.opType() + " node " + tensor.nodeName() + ")";
    switch (tensor.opType()) {
      case "Conv" -> {
        long group = intAttribute(node, "group", 1);
        if (group != 1) {
          throw new InvalidInputException(where + " is a grouped convolution (group=" + group + "), which is"
              + " not supported for activation-aware criteria; exclude it or use a magnitude criterion");
        }
        if (shape.length != 4 || tensor.transposed()) {
          throw new InvalidInputException(where + " has shape " + Arrays.toString(shape) + "; only 2-D"
              + " convolutions (weights [out, in, kh, kw]) are supported for activation-aware criteria");
        }
        long[] kernel = intsAttribute(node, "kernel_shape", new long[] {shape[2], shape[3]});
        if (kernel.length != 2 || kernel[0] != shape[2] || kernel[1] != shape[3]) {
          throw new InvalidInputException(where + ": kernel_shape " + Arrays.toString(kernel)
              + " does not match the weight's " + Arrays.toString(shape));
        }
        long[] strides = intsAttribute(node, "strides", new long[] {1, 1});
        long[] dilations = intsAttribute(node, "dilations", new long[] {1, 1});
        long[] pads = intsAttribute(node, "pads", new long[] {0, 0, 0, 0});
        if (strides.length != 2 || dilations.length != 2 || pads.length != 4) {
          throw new InvalidInputException(where + ": strides " + Arrays.toString(strides) + ", dilations "
              + Arrays.toString(dilations) + " and pads " + Arrays.toString(pads) + " are not those of a 2-D Conv");
        }
        String autoPad = stringAttribute(node, "auto_pad", "NOTSET");
        AutoPad mode;
        try {
          mode = AutoPad.valueOf(autoPad);
        } catch (IllegalArgumentException e) {
          throw new InvalidInputException(where + ": unknown auto_pad " + autoPad, e);
        }
        Patches patches = new Patches((int) shape[2], (int) shape[3], (int) strides[0], (int) strides[1],
            (int) dilations[0], (int) dilations[1], (int) pads[0], (int) pads[1], (int) pads[2], (int) pads[3], mode);
        return new ConsumerInput(node.getInput(0), Layout.PATCHES,
            Math.toIntExact(shape[1] * shape[2] * shape[3]), patches);
      }
      case "Gemm", "MatMul" -> {
        if (shape.length != 2) {
          throw new InvalidInputException(where + " has shape " + Arrays.toString(shape) + "; activation-aware"
              + " criteria support MatMul and Gemm weights that are matrices");
        }
        int other = 1 - tensor.inputIndex();
        boolean gemm = tensor.opType().equals("Gemm");
        // The other operand as the op uses it: X of X·W (weight second) or of W·X (weight first).
        boolean otherTransposed = gemm && intAttribute(node, other == 0 ? "transA" : "transB", 0) != 0;
        Layout layout;
        long dim;
        if (tensor.inputIndex() == 1) { // Y = op(X)·op(W): op(W) is [in, out], op(X)'s rows are samples
          layout = otherTransposed ? Layout.COLUMNS : Layout.ROWS;
          dim = tensor.transposed() ? shape[1] : shape[0];
        } else { // Y = op(W)·op(X): op(W) is [out, in], op(X)'s columns are samples
          layout = otherTransposed ? Layout.ROWS : Layout.COLUMNS;
          dim = tensor.transposed() ? shape[0] : shape[1];
        }
        return new ConsumerInput(node.getInput(other), layout, Math.toIntExact(dim), null);
      }
      default -> throw new InvalidInputException(where + ": activation-aware criteria support Conv, Gemm"
          + " and MatMul consumers, not " + tensor.opType());
    }
  }

  /** The node that consumes {@code tensor} at its input index, through layout-only nodes. */
  private static Onnx.NodeProto consumer(OnnxModel model, PrunableTensor tensor) {
    Map<String, Onnx.NodeProto> producers = new HashMap<>();
    for (Onnx.NodeProto node : model.nodes()) {
      node.getOutputList().forEach(out -> producers.put(out, node));
    }
    for (Onnx.NodeProto node : model.nodes()) {
      String name = node.getName().isEmpty() && node.getOutputCount() > 0 ? node.getOutput(0) : node.getName();
      if (!node.getOpType().equals(tensor.opType()) || !name.equals(tensor.nodeName())
          || node.getInputCount() <= Math.max(tensor.inputIndex(), 1)) {
        continue;
      }
      String value = node.getInput(tensor.inputIndex());
      Onnx.NodeProto producer = producers.get(value);
      boolean reshaped = false;
      while (!value.equals(tensor.name()) && producer != null && PASS_THROUGH.contains(producer.getOpType())
          && producer.getInputCount() > 0) {
        reshaped |= producer.getOpType().equals("Reshape");
        value = producer.getInput(0);
        producer = producers.get(value);
      }
      if (value.equals(tensor.name())) {
        if (reshaped) {
          throw new InvalidInputException(model.source().onnxPath() + ": tensor " + tensor.name()
              + " reaches " + tensor.opType() + " node " + tensor.nodeName() + " through a Reshape, so its"
              + " input channels are not its stored axes; this is not supported for activation-aware criteria");
        }
        return node;
      }
    }
    throw new IllegalArgumentException(model.source().onnxPath() + ": no " + tensor.opType() + " node "
        + tensor.nodeName() + " reads tensor " + tensor.name() + " at input " + tensor.inputIndex());
  }

  private static long intAttribute(Onnx.NodeProto node, String name, long fallback) {
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a.getI();
      }
    }
    return fallback;
  }

  private static long[] intsAttribute(Onnx.NodeProto node, String name, long[] fallback) {
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
      }
    }
    return fallback;
  }

  private static String stringAttribute(Onnx.NodeProto node, String name, String fallback) {
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a.getS().toStringUtf8();
      }
    }
    return fallback;
  }
}
