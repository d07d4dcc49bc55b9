package dev.lopper.eval;

import dev.lopper.model.OnnxModel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import onnx.Onnx;

/**
 * Where a model's graph is cut so that variants replacing some weights are evaluated from the
 * activations the dense model already computed (prefix reuse).
 *
 * <p>For a set of replaced weights, the <em>suffix</em> is every node that reads one of them or,
 * transitively, reads a value such a node produces, restricted to the nodes the model's first
 * output depends on. Every other node computes the same values in every variant. The <em>cut
 * values</em> are what the suffix reads from outside itself, initializers excepted: outputs of
 * nodes before the cut and graph inputs (a tensor consumed by the first node has the features as
 * its only cut value). The <em>prefix</em> is the part of the graph that computes the cut values
 * from the graph's inputs.
 *
 * <p>This class only reads and writes graphs (ONNX protobuf, float initializers still
 * external-data headers); {@link Evaluator#cut} builds sessions on them.
 *
 * <pre>{@code
 * GraphCut cut = GraphCut.of(model, Set.of("fc2.weight"));
 * cut.values();        // [/Relu_output_0]
 * cut.suffixNodes();   // [/fc2/Gemm, /Relu_1, /fc3/Gemm]
 * }</pre>
 */
public final class GraphCut {
  private final OnnxModel model;
  private final SortedSet<String> weights;
  private final String output;
  private final List<Onnx.NodeProto> suffix;
  private final List<Onnx.NodeProto> prefix;
  private final List<String> values;
  private final Set<String> graphInputs;

  private GraphCut(OnnxModel model, SortedSet<String> weights, List<Onnx.NodeProto> suffix,
      List<Onnx.NodeProto> prefix, List<String> values, Set<String> graphInputs) {
    this.model = model;
    this.weights = weights;
    this.output = model.outputs().get(0).name();
    this.suffix = List.copyOf(suffix);
    this.prefix = List.copyOf(prefix);
    this.values = List.copyOf(values);
    this.graphInputs = Set.copyOf(graphInputs);
  }

  /**
   * The cut for variants that replace {@code weights} (float initializer names).
   *
   * @throws IllegalArgumentException when {@code weights} is empty or names no float initializer
   *     of the model
   */
  public static GraphCut of(OnnxModel model, Collection<String> weights) {
    if (weights.isEmpty()) {
      throw new IllegalArgumentException("a cut needs at least one replaced weight");
    }
    for (String w : weights) {
      if (!model.weights().containsKey(w)) {
        throw new IllegalArgumentException(model.source().onnxPath() + ": no float initializer"
            + " named " + w + " to cut at");
      }
    }
    if (model.outputs().isEmpty()) {
      throw new IllegalArgumentException(model.source().onnxPath() + ": the model has no outputs");
    }
    List<Onnx.NodeProto> nodes = model.nodes();
    String output = model.outputs().get(0).name();

    // Downstream of the replaced weights, in one pass over the topologically sorted nodes.
    Set<String> changed = new HashSet<>(weights);
    boolean[] downstream = new boolean[nodes.size()];
    for (int n = 0; n < nodes.size(); n++) {
      if (reads(nodes.get(n)).stream().anyMatch(changed::contains)) {
        downstream[n] = true;
        changed.addAll(nodes.get(n).getOutputList());
      }
    }
    // What the first output needs, walking backwards.
    boolean[] needed = neededFor(nodes, Set.of(output));

    Set<String> initializers = new HashSet<>();
    model.graph().getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    Set<String> inputs = new HashSet<>();
    model.graph().getGraph().getInputList().forEach(i -> inputs.add(i.getName()));

    // The suffix: the nodes downstream of the weights that the output needs, and the constant
    // nodes (Constant, or reading only initializers and constants: a Transpose of a weight, a
    // LayerNorm's epsilon) they read. Were the constants cut values, they would be graph inputs of
    // the suffix, which ONNX Runtime cannot fold into its fusions (a LayerNorm whose epsilon is an
    // input stays unfused), and the suffix's logits would differ from the whole model's.
    boolean[] constant = constants(nodes, initializers);
    Map<String, Integer> producer = new HashMap<>();
    for (int n = 0; n < nodes.size(); n++) {
      for (String out : nodes.get(n).getOutputList()) {
        producer.put(out, n);
      }
    }
    boolean[] inSuffix = new boolean[nodes.size()];
    Deque<Integer> pending = new ArrayDeque<>();
    for (int n = 0; n < nodes.size(); n++) {
      if (downstream[n] && needed[n]) {
        inSuffix[n] = true;
        pending.add(n);
      }
    }
    while (!pending.isEmpty()) {
      for (String read : reads(nodes.get(pending.poll()))) {
        Integer m = producer.get(read);
        if (m != null && constant[m] && !inSuffix[m]) {
          inSuffix[m] = true;
          pending.add(m);
        }
      }
    }
    List<Onnx.NodeProto> suffix = new ArrayList<>();
    Set<String> produced = new HashSet<>();
    LinkedHashSet<String> cut = new LinkedHashSet<>();
    for (int n = 0; n < nodes.size(); n++) {
      if (inSuffix[n]) {
        Onnx.NodeProto node = nodes.get(n);
        suffix.add(node);
        for (String read : reads(node)) {
          if (!produced.contains(read) && !initializers.contains(read)) {
            cut.add(read);
          }
        }
        produced.addAll(node.getOutputList());
      }
    }
    Set<String> computed = new HashSet<>(cut);
    computed.removeAll(inputs);
    boolean[] inPrefix = neededFor(nodes, computed);
    List<Onnx.NodeProto> prefix = new ArrayList<>();
    for (int n = 0; n < nodes.size(); n++) {
      if (inPrefix[n]) {
        prefix.add(nodes.get(n));
      }
    }
    return new GraphCut(model, new TreeSet<>(weights), suffix, prefix, new ArrayList<>(cut), inputs);
  }

  /**
   * Which nodes compute constants: nodes without subgraphs whose every input is an initializer or
   * a constant node's output (a Constant node has none).
   */
  static boolean[] constants(List<Onnx.NodeProto> nodes, Set<String> initializers) {
    boolean[] constant = new boolean[nodes.size()];
    Set<String> known = new HashSet<>(initializers);
    for (int n = 0; n < nodes.size(); n++) {
      Onnx.NodeProto node = nodes.get(n);
      boolean subgraph = node.getAttributeList().stream()
          .anyMatch(a -> a.hasG() || a.getGraphsCount() > 0);
      if (!subgraph && node.getInputList().stream().allMatch(i -> i.isEmpty() || known.contains(i))) {
        constant[n] = true;
        known.addAll(node.getOutputList());
      }
    }
    return constant;
  }

  /** The model cut. */
  public OnnxModel model() {
    return model;
  }

  /** The replaced weights this cut serves, sorted by name. */
  public SortedSet<String> weights() {
    return weights;
  }

  /** The model output the suffix computes (the model's first output). */
  public String output() {
    return output;
  }

  /**
   * The cut values: what the suffix reads from before the cut, in order of first use; graph
   * inputs among them are fed from the batch, the others come from the prefix.
   */
  public List<String> values() {
    return values;
  }

  /** Whether {@code value} is one of the model's graph inputs (fed from the batch). */
  public boolean isGraphInput(String value) {
    return graphInputs.contains(value);
  }

  /** The cut values the prefix computes (those that are not graph inputs), in order. */
  public List<String> computedValues() {
    return values.stream().filter(v -> !graphInputs.contains(v)).toList();
  }

  /** The suffix's nodes, in graph order; empty when the output does not depend on the weights. */
  public List<Onnx.NodeProto> suffixNodes() {
    return suffix;
  }

  /** The prefix's nodes, in graph order; empty when every cut value is a graph input. */
  public List<Onnx.NodeProto> prefixNodes() {
    return prefix;
  }

  /** Whether the model's output depends on the replaced weights at all. */
  public boolean affectsOutput() {
    return !suffix.isEmpty();
  }

  /**
   * The prefix as a model: the nodes computing {@link #computedValues()} from the graph's inputs,
   * which it declares as its outputs (name only: ONNX Runtime infers their types).
   *
   * @throws IllegalStateException when there is nothing to compute ({@link #prefixNodes()} empty)
   */
  public Onnx.ModelProto prefix() {
    if (prefix.isEmpty()) {
      throw new IllegalStateException("the cut at " + weights + " has no prefix: its cut values "
          + values + " are graph inputs");
    }
    Onnx.GraphProto.Builder g = emptyGraph("prefix");
    Set<String> read = readsOf(prefix);
    for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
      if (read.contains(input.getName())) {
        g.addInput(input);
      }
    }
    addPart(g, prefix, read);
    for (String value : computedValues()) {
      g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(value));
    }
    return model.graph().toBuilder().setGraph(g).build();
  }

  /**
   * The suffix as a model: its nodes, the cut values as its inputs (with the types given, which
   * {@link Evaluator} takes from ONNX Runtime's view of the prefix) and the model's first output as
   * its only output.
   *
   * @param types the type of every cut value
   * @throws IllegalArgumentException when a cut value has no type
   * @throws IllegalStateException when the output does not depend on the weights
   */
  public Onnx.ModelProto suffix(Map<String, Onnx.TypeProto> types) {
    if (suffix.isEmpty()) {
      throw new IllegalStateException(model.source().onnxPath() + ": output " + output
          + " does not depend on " + weights + "; there is no suffix to evaluate");
    }
    Onnx.GraphProto.Builder g = emptyGraph("suffix");
    for (String value : values) {
      Onnx.TypeProto type = types.get(value);
      if (type == null) {
        throw new IllegalArgumentException("no type given for cut value " + value);
      }
      g.addInput(Onnx.ValueInfoProto.newBuilder().setName(value).setType(type));
    }
    addPart(g, suffix, readsOf(suffix));
    g.addOutput(model.graph().getGraph().getOutput(0));
    return model.graph().toBuilder().setGraph(g).build();
  }

  /**
   * Like {@link #suffix(Map)}, with the initializers named in {@code fed} declared as graph inputs
   * of their element type and shape instead: one session on it evaluates any values of those
   * tensors, each run fed its own (see {@link PreparedCut#fedLogits}, which feeds every float
   * weight of the suffix).
   *
   * @throws IllegalArgumentException when a name in {@code fed} is no initializer the suffix reads
   */
  public Onnx.ModelProto suffix(Map<String, Onnx.TypeProto> types, Collection<String> fed) {
    return feeding(suffix(types), fed, toString());
  }

  /**
   * {@code part} with its initializers named in {@code fed} declared as graph inputs of their
   * element type and shape instead ({@code what} names the part in messages).
   *
   * @throws IllegalArgumentException when a name in {@code fed} is no initializer of the part
   */
  static Onnx.ModelProto feeding(Onnx.ModelProto part, Collection<String> fed, String what) {
    Onnx.GraphProto.Builder g = part.getGraph().toBuilder();
    Set<String> left = new LinkedHashSet<>(fed);
    for (int i = g.getInitializerCount() - 1; i >= 0; i--) {
      Onnx.TensorProto t = g.getInitializer(i);
      if (left.remove(t.getName())) {
        Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
        for (long d : t.getDimsList()) {
          shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        g.removeInitializer(i);
        g.addInput(Onnx.ValueInfoProto.newBuilder().setName(t.getName()).setType(Onnx.TypeProto
            .newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                .setElemType(t.getDataType()).setShape(shape))));
      }
    }
    if (!left.isEmpty()) {
      throw new IllegalArgumentException(what + " has no initializer named " + left);
    }
    return part.toBuilder().setGraph(g).build();
  }

  /**
   * The whole model with {@code values} (values nodes produce) added to its outputs, name
   * only: one dense run then yields the cut values of several cuts with the logits.
   */
  static Onnx.ModelProto withOutputs(OnnxModel model, Collection<String> values) {
    Onnx.GraphProto.Builder g = model.graph().getGraph().toBuilder();
    Set<String> outputs = new HashSet<>();
    g.getOutputList().forEach(o -> outputs.add(o.getName()));
    for (String value : values) {
      if (outputs.add(value)) {
        g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(value));
      }
    }
    return model.graph().toBuilder().setGraph(g).build();
  }

  @Override
  public String toString() {
    return "GraphCut[" + weights + " at " + values + ", " + suffix.size() + " suffix nodes, "
        + prefix.size() + " prefix nodes]";
  }

  private Onnx.GraphProto.Builder emptyGraph(String part) {
    Onnx.GraphProto.Builder g = model.graph().getGraph().toBuilder()
        .clearNode().clearInput().clearOutput().clearInitializer().clearValueInfo()
        .clearSparseInitializer();
    return g.setName(g.getName() + "-" + part);
  }

  /**
   * The part of the model's graph that computes {@code values} (outputs of its nodes) from the
   * graph's inputs, with those values as its only outputs (name only: ONNX Runtime infers their
   * types); the model's own outputs are not computed unless asked for.
   *
   * @throws IllegalArgumentException when a value is no node's output
   */
  static Onnx.ModelProto computing(OnnxModel model, Collection<String> values) {
    List<Onnx.NodeProto> nodes = model.nodes();
    Set<String> produced = new HashSet<>();
    nodes.forEach(n -> produced.addAll(n.getOutputList()));
    for (String value : values) {
      if (!produced.contains(value)) {
        throw new IllegalArgumentException(model.source().onnxPath() + ": no node computes a value named " + value);
      }
    }
    boolean[] needed = neededFor(nodes, new HashSet<>(values));
    List<Onnx.NodeProto> part = new ArrayList<>();
    for (int n = 0; n < nodes.size(); n++) {
      if (needed[n]) {
        part.add(nodes.get(n));
      }
    }
    Onnx.GraphProto.Builder g = model.graph().getGraph().toBuilder()
        .clearNode().clearInput().clearOutput().clearInitializer().clearValueInfo().clearSparseInitializer();
    g.setName(g.getName() + "-capture");
    Set<String> read = readsOf(part);
    for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
      if (read.contains(input.getName())) {
        g.addInput(input);
      }
    }
    addPart(model, g, part, read);
    for (String value : new LinkedHashSet<>(values)) {
      g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(value));
    }
    return model.graph().toBuilder().setGraph(g).build();
  }

  /** Adds nodes, the initializers they read and the value infos of what they produce. */
  private void addPart(Onnx.GraphProto.Builder g, List<Onnx.NodeProto> nodes, Set<String> read) {
    addPart(model, g, nodes, read);
  }

  /** Adds nodes of {@code model}, the initializers they read and the value infos of what they produce. */
  static void addPart(OnnxModel model, Onnx.GraphProto.Builder g, List<Onnx.NodeProto> nodes,
      Set<String> read) {
    Set<String> produced = new HashSet<>();
    for (Onnx.NodeProto node : nodes) {
      g.addNode(node);
      produced.addAll(node.getOutputList());
    }
    for (Onnx.TensorProto t : model.graph().getGraph().getInitializerList()) {
      if (read.contains(t.getName())) {
        g.addInitializer(t);
      }
    }
    for (Onnx.SparseTensorProto t : model.graph().getGraph().getSparseInitializerList()) {
      if (read.contains(t.getValues().getName())) {
        g.addSparseInitializer(t);
      }
    }
    for (Onnx.ValueInfoProto info : model.graph().getGraph().getValueInfoList()) {
      if (produced.contains(info.getName())) {
        g.addValueInfo(info);
      }
    }
  }

  /** Which nodes the given values depend on (a backward walk over the sorted nodes). */
  static boolean[] neededFor(List<Onnx.NodeProto> nodes, Set<String> values) {
    Set<String> wanted = new HashSet<>(values);
    boolean[] needed = new boolean[nodes.size()];
    for (int n = nodes.size() - 1; n >= 0; n--) {
      Onnx.NodeProto node = nodes.get(n);
      if (node.getOutputList().stream().anyMatch(wanted::contains)) {
        needed[n] = true;
        wanted.addAll(reads(node));
      }
    }
    return needed;
  }

  private static Set<String> readsOf(List<Onnx.NodeProto> nodes) {
    Set<String> read = new HashSet<>();
    nodes.forEach(n -> read.addAll(reads(n)));
    return read;
  }

  /**
   * The values a node reads: its inputs, and the outer-scope values that nodes of its subgraphs
   * (If, Loop, Scan bodies) read without defining them.
   */
  static List<String> reads(Onnx.NodeProto node) {
    List<String> out = new ArrayList<>();
    for (String input : node.getInputList()) {
      if (!input.isEmpty()) {
        out.add(input);
      }
    }
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.hasG()) {
        out.addAll(outerReads(a.getG()));
      }
      for (Onnx.GraphProto sub : a.getGraphsList()) {
        out.addAll(outerReads(sub));
      }
    }
    return out;
  }

  private static Set<String> outerReads(Onnx.GraphProto graph) {
    Set<String> defined = new HashSet<>();
    graph.getInputList().forEach(i -> defined.add(i.getName()));
    graph.getInitializerList().forEach(t -> defined.add(t.getName()));
    Set<String> outer = new LinkedHashSet<>();
    for (Onnx.NodeProto node : graph.getNodeList()) {
      for (String read : reads(node)) {
        if (!defined.contains(read)) {
          outer.add(read);
        }
      }
      defined.addAll(node.getOutputList());
    }
    graph.getOutputList().forEach(o -> {
      if (!defined.contains(o.getName())) {
        outer.add(o.getName());
      }
    });
    return outer;
  }
}
