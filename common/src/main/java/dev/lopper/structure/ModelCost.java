package dev.lopper.structure;

import dev.lopper.io.Table;
import dev.lopper.model.OnnxModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * The size of a model as structured pruning changes it: parameters (elements of float
 * initializers) and multiply-accumulates per sample, computed from the graph and the input shape
 * with the batch size set to 1. For a model of token inputs a sample is one row of a given number
 * of tokens ({@link #of(Onnx.ModelProto, long)}; {@value #DEFAULT_SEQUENCE} unless said), and the
 * MatMuls of activations (attention's scores and its weighted sum of values) count like any other.
 *
 * <p>Multiply-accumulates are counted for the ops that carry nearly all of them: Conv {@code
 * out_c × in_c/group × kernel elements × output positions}, Gemm {@code m × k × n} and MatMul
 * (the output's elements × the inner dimension). Normalisations, activations, pools and additions
 * are not counted. A node whose shapes cannot be inferred has {@code macs = -1} and is left out of
 * the total ({@link #complete()} says whether any was).
 *
 * <pre>{@code
 * Table sizes = ModelCost.compare(ModelCost.of(model), shrunk.cost());
 * }</pre>
 *
 * @param parameters elements of all float initializers
 * @param macs multiply-accumulates per sample of the counted nodes
 * @param nodes per node, in graph order: parameters read (each initializer counted at its first
 *     reader) and multiply-accumulates
 */
public record ModelCost(long parameters, long macs, List<NodeCost> nodes) {

  /** Tokens per row at which a token model's multiply-accumulates are counted unless said. */
  public static final long DEFAULT_SEQUENCE = 128;

  /** The node name of the totals' row in {@link #comparison}. */
  public static final String TOTAL = "(total)";

  /**
   * The cost of one node.
   *
   * @param node the node's name (its first output when unnamed)
   * @param op its op type
   * @param parameters elements of the float initializers it reads first
   * @param macs multiply-accumulates per sample, 0 for ops not counted, -1 when unknown
   */
  public record NodeCost(String node, String op, long parameters, long macs) {}

  public ModelCost {
    nodes = List.copyOf(nodes);
  }

  /** The cost of a loaded model. */
  public static ModelCost of(OnnxModel model) {
    return of(model.graph());
  }

  /**
   * The cost of a model whose initializers carry their dims (full or as headers without data).
   *
   * @throws IllegalArgumentException when the graph's shapes are inconsistent
   */
  public static ModelCost of(Onnx.ModelProto model) {
    return of(model, DEFAULT_SEQUENCE);
  }

  /**
   * The cost of a model with each row of a token model {@code sequence} tokens long (the symbolic
   * dimensions of its integer inputs other than the batch); a model of float inputs is counted as
   * by {@link #of(Onnx.ModelProto)}, its other symbolic dimensions unknown.
   *
   * @throws IllegalArgumentException when the graph's shapes are inconsistent
   */
  public static ModelCost of(Onnx.ModelProto model, long sequence) {
    Onnx.GraphProto graph = model.getGraph();
    Map<String, long[]> shapes;
    try {
      shapes = ShapeInference.infer(graph, 1, tokenInputs(graph) ? sequence : -1);
    } catch (IllegalArgumentException e) {
      // a graph whose symbolic dimensions cannot all be this length (an image model with integer
      // inputs of its own): counted with them unknown, as before token models were counted
      shapes = ShapeInference.infer(graph, 1);
    }
    Map<String, Long> floatSizes = new LinkedHashMap<>();
    for (Onnx.TensorProto t : graph.getInitializerList()) {
      if (t.getDataType() == Onnx.TensorProto.DataType.FLOAT_VALUE) {
        floatSizes.put(t.getName(), NodeAttributes.product(NodeAttributes.dims(t), 0, t.getDimsCount()));
      }
    }
    long parameters = floatSizes.values().stream().mapToLong(Long::longValue).sum();
    Set<String> counted = new HashSet<>();
    List<NodeCost> nodes = new ArrayList<>();
    long macs = 0;
    for (Onnx.NodeProto node : graph.getNodeList()) {
      long params = 0;
      for (String in : node.getInputList()) {
        if (floatSizes.containsKey(in) && counted.add(in)) {
          params += floatSizes.get(in);
        }
      }
      long m = macs(node, shapes);
      if (m > 0) {
        macs += m;
      }
      nodes.add(new NodeCost(NodeAttributes.nodeName(node), node.getOpType(), params, m));
    }
    return new ModelCost(parameters, macs, nodes);
  }

  /** Whether some graph input that is no initializer takes integers (token ids, masks). */
  private static boolean tokenInputs(Onnx.GraphProto graph) {
    Set<String> initializers = new HashSet<>();
    graph.getInitializerList().forEach(t -> initializers.add(t.getName()));
    return graph.getInputList().stream().filter(v -> !initializers.contains(v.getName()))
        .anyMatch(v -> v.getType().getTensorType().getElemType() == Onnx.TensorProto.DataType.INT64_VALUE
            || v.getType().getTensorType().getElemType() == Onnx.TensorProto.DataType.INT32_VALUE);
  }

  /** False when some Conv, Gemm or MatMul node's multiply-accumulates could not be counted. */
  public boolean complete() {
    return nodes.stream().noneMatch(n -> n.macs() < 0);
  }

  private static long macs(Onnx.NodeProto node, Map<String, long[]> shapes) {
    String op = node.getOpType();
    if (!op.equals("Conv") && !op.equals("Gemm") && !op.equals("MatMul")) {
      return 0;
    }
    long[] out = shapes.get(node.getOutput(0));
    long[] a = shapes.get(NodeAttributes.input(node, 0));
    long[] b = shapes.get(NodeAttributes.input(node, 1));
    if (out == null || a == null || b == null) {
      return -1;
    }
    return switch (op) {
      // weight elements = out_c * in_c/group * kernel elements; times the output positions
      case "Conv" -> Math.multiplyExact(NodeAttributes.product(b, 0, b.length),
          NodeAttributes.product(out, 2, out.length));
      case "Gemm" -> {
        boolean transA = NodeAttributes.integer(node, "transA", 0) != 0;
        yield Math.multiplyExact(Math.multiplyExact(out[0], out[1]), transA ? a[0] : a[1]);
      }
      default -> Math.multiplyExact(NodeAttributes.product(out, 0, out.length),
          a.length == 1 ? a[0] : a[a.length - 1]);
    };
  }

  /**
   * Dense against pruned, per node (by name, in the dense graph's order; nodes that neither read
   * parameters nor multiply are left out) and in total: the last row, node {@value #TOTAL}, holds
   * the totals (all parameters, including initializers no node reads).
   */
  public static List<CostComparisonRow> comparison(ModelCost dense, ModelCost pruned) {
    Map<String, NodeCost> after = new HashMap<>();
    pruned.nodes().forEach(n -> after.put(n.node(), n));
    List<CostComparisonRow> rows = new ArrayList<>();
    for (NodeCost n : dense.nodes()) {
      if (n.parameters() == 0 && n.macs() == 0) {
        continue;
      }
      NodeCost p = after.get(n.node());
      rows.add(new CostComparisonRow(n.node(), n.op(), n.parameters(), p == null ? null : p.parameters(), n.macs(),
          p == null ? null : p.macs()));
    }
    rows.add(new CostComparisonRow(TOTAL, "", dense.parameters(), pruned.parameters(), dense.macs(), pruned.macs()));
    return rows;
  }

  /**
   * {@link #comparison} as a table: columns {@code node, op} (STRING), {@code parameters_dense,
   * parameters_pruned, macs_dense, macs_pruned} (LONG).
   */
  public static Table compare(ModelCost dense, ModelCost pruned) {
    return CostComparisonRow.SCHEMA.table(comparison(dense, pruned));
  }
}
