package dev.lopper.model;

/**
 * Readable names for anonymous initializers: the name of the node that uses such a tensor, shown
 * beside the tensor's own name in tables and reports.
 *
 * <p>An initializer name is <em>anonymous</em> when the exporter made it up instead of taking it
 * from the model's code:
 *
 * <ul>
 *   <li>it starts with {@code onnx::}, the prefix {@code torch.onnx.export} gives every value it
 *       names itself, such as the constant-folded transpose of a Linear weight ({@code
 *       onnx::MatMul_787} in all-MiniLM-L6-v2) or a Conv weight with a batch norm folded in
 *       ({@code onnx::Conv_123});
 *   <li>or it is a bare number ({@code 23}), as older PyTorch exports number such values.
 * </ul>
 *
 * <p>Every other name counts as chosen by a person, whether a dotted module path ({@code
 * encoder.layer.0.attention.self.query.weight}), a TensorFlow variable ({@code dense/kernel:0}) or
 * a short name ({@code w1}): it is shown as it is, and nothing is added beside it, so the tables of
 * models with such names keep their columns. The readable name of an anonymous tensor is its
 * consumer's node name, which {@code torch.onnx.export} scopes by module ({@code
 * /encoder/layer.0/attention/self/query/MatMul}); a tensor reached through Transpose, Cast,
 * Reshape or Identity takes the name of the node that multiplies by it.
 */
public final class ReadableNames {

  /** The prefix {@code torch.onnx.export} gives the values it names itself. */
  public static final String ANONYMOUS_PREFIX = "onnx::";

  private ReadableNames() {}

  /** Whether {@code tensor} is an anonymous initializer name, by the rule in the class comment. */
  public static boolean anonymous(String tensor) {
    return tensor.startsWith(ANONYMOUS_PREFIX) || (!tensor.isEmpty() && tensor.chars().allMatch(c -> c >= '0'
        && c <= '9'));
  }

  /**
   * The readable name of initializer {@code tensor} used by node {@code node}: the node's name when
   * the tensor's name is anonymous and the node's is not (a node named after an anonymous value
   * says no more than the tensor); null otherwise, and always for a tensor with a name of its own.
   */
  public static String of(String tensor, String node) {
    if (!anonymous(tensor) || node == null || node.isEmpty() || anonymous(node)) {
      return null;
    }
    return node;
  }
}
