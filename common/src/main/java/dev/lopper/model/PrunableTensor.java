package dev.lopper.model;

import java.io.Serializable;
import java.util.Arrays;

/**
 * A weight tensor that may be pruned: a float initializer of rank 2 or more feeding the weight
 * input of a Conv, Gemm or MatMul node, directly or through layout-only nodes (Transpose, Cast,
 * Reshape, Identity).
 *
 * @param name the initializer's name
 * @param opType the consuming node's op type ({@code Conv}, {@code Gemm}, {@code MatMul})
 * @param nodeName the consuming node's name (its first output's name when the node has none): for a
 *     weight reached through layout-only nodes, the node that multiplies by it; for an anonymous
 *     initializer such as {@code onnx::MatMul_1234} the readable name of the layer (e.g. {@code
 *     /encoder/layer.0/attention/self/query/MatMul}), see {@link #readableName()}
 * @param shape the tensor's dimensions
 * @param parameters the number of elements
 * @param inputIndex which input of the consuming node the tensor is
 * @param transposed whether the consumer transposes the tensor before use (Gemm's {@code transB}
 *     for input 1, {@code transA} for input 0, or a Transpose node between the initializer and the
 *     consumer); PyTorch's Linear exports as Gemm with transB=1 or as MatMul of a Transpose, so its
 *     output neurons are rows
 */
public record PrunableTensor(String name, String opType, String nodeName, long[] shape,
    long parameters, int inputIndex, boolean transposed) implements Serializable {

  public PrunableTensor {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /**
   * The name tables and reports show beside {@link #name()}: the consuming node's name when the
   * initializer's name is anonymous ({@code onnx::MatMul_787}), null when the name is readable
   * itself; the rule is {@link ReadableNames}'.
   */
  public String readableName() {
    return ReadableNames.of(name, nodeName);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PrunableTensor p && name.equals(p.name) && opType.equals(p.opType)
        && nodeName.equals(p.nodeName) && Arrays.equals(shape, p.shape)
        && parameters == p.parameters && inputIndex == p.inputIndex && transposed == p.transposed;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " (" + opType + " " + nodeName + ", " + Arrays.toString(shape) + ")";
  }
}
