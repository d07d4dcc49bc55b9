package dev.lopper.eval;

import dev.lopper.model.OnnxModel;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * The segments of a model's graph that sequential calibration runs one after another, so that the
 * model is evaluated about twice in all rather than once up to every group (G groups: G/2 whole
 * passes).
 *
 * <p>Groups of weights are pruned in order; step {@code g} needs the values {@code targets(g)}
 * (group {@code g}'s consumer inputs) on the model whose groups before {@code g} hold their pruned
 * weights and the others their dense ones. A node's <em>level</em> is the highest group whose
 * weights it reads, directly or through the values it reads (-1: none). Once groups {@code 0..g-1}
 * are pruned, every node of level below {@code g} computes its final value, and no later pruning
 * changes it. So step {@code g} starts from the <em>frontier</em> {@code frontier(g)}: the values of
 * nodes of level below {@code g} that nodes of level {@code g} or more read, or that later steps
 * capture. Step {@code g}:
 *
 * <ul>
 *   <li>({@code g > 0}) <em>advances</em> from {@code frontier(g - 1)} to {@code frontier(g)} with
 *       the weights of groups {@code 0..g-1} replaced ({@link #advance}): it computes only the nodes
 *       between the two, once;
 *   <li><em>captures</em> {@code targets(g)} from {@code frontier(g)} with the weights of groups
 *       {@code 0..g-1} replaced and group {@code g}'s dense ({@link #capture}).
 * </ul>
 *
 * Both read the graph's inputs too (token ids, attention masks: they are fed again at every step).
 * Nodes that compute constants (a Constant, a Transpose of a weight, a LayerNorm's epsilon) are
 * never frontier values; each segment computes those it reads, as {@link GraphCut}'s suffixes do,
 * so that ONNX Runtime's fusions see them.
 *
 * <p>The values are the ones the whole graph gives up to floating-point rounding: a segment is a
 * part of the graph, and ONNX Runtime may fuse a part differently from the whole.
 *
 * <p>This class only reads and writes graphs; {@link ActivationCapture#segment} builds sessions on
 * them.
 */
public final class GraphSegments {
  private final OnnxModel model;
  private final List<List<String>> targets;
  private final List<List<String>> frontiers;
  private final Set<String> graphInputs;

  private GraphSegments(OnnxModel model, List<List<String>> targets, List<List<String>> frontiers,
      Set<String> graphInputs) {
    this.model = model;
    this.targets = targets;
    this.frontiers = frontiers;
    this.graphInputs = graphInputs;
  }

  /**
   * The segments for groups of weights pruned in the order given.
   *
   * @param weights each group's weights (float initializer names), in the order they are pruned
   * @param targets each group's values to capture (graph values: node outputs or graph inputs)
   * @throws IllegalArgumentException when the lists differ in length, a weight is in two groups, or
   *     a target names no value of the graph
   */
  public static GraphSegments of(OnnxModel model, List<? extends Collection<String>> weights,
      List<? extends Collection<String>> targets) {
    if (weights.size() != targets.size() || weights.isEmpty()) {
      throw new IllegalArgumentException(weights.size() + " groups of weights and " + targets.size()
          + " of values to capture");
    }
    Map<String, Integer> groupOf = new HashMap<>();
    for (int g = 0; g < weights.size(); g++) {
      for (String w : weights.get(g)) {
        if (groupOf.put(w, g) != null) {
          throw new IllegalArgumentException("weight " + w + " is in two groups");
        }
      }
    }
    List<Onnx.NodeProto> nodes = model.nodes();
    Set<String> graphInputs = new HashSet<>();
    model.graph().getGraph().getInputList().forEach(i -> graphInputs.add(i.getName()));
    Set<String> initializers = new HashSet<>();
    model.graph().getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
    boolean[] constant = GraphCut.constants(nodes, initializers);

    Map<String, Integer> producer = new HashMap<>();
    for (int n = 0; n < nodes.size(); n++) {
      for (String out : nodes.get(n).getOutputList()) {
        producer.put(out, n);
      }
    }
    List<List<String>> wanted = new ArrayList<>();
    Set<String> allTargets = new HashSet<>();
    for (Collection<String> t : targets) {
      for (String v : t) {
        if (!producer.containsKey(v) && !graphInputs.contains(v)) {
          throw new IllegalArgumentException(model.source().onnxPath() + ": no node computes a value named " + v);
        }
      }
      List<String> list = List.copyOf(new LinkedHashSet<>(t));
      wanted.add(list);
      allTargets.addAll(list);
    }

    // Each node's level: the highest group whose weights it depends on (-1: none).
    int[] level = new int[nodes.size()];
    Map<String, Integer> valueLevel = new HashMap<>();
    for (int n = 0; n < nodes.size(); n++) {
      int l = -1;
      for (String read : GraphCut.reads(nodes.get(n))) {
        Integer g = groupOf.get(read);
        l = Math.max(l, g != null ? g : valueLevel.getOrDefault(read, -1));
      }
      level[n] = l;
      for (String out : nodes.get(n).getOutputList()) {
        valueLevel.put(out, l);
      }
    }
    // The last step that reads each value: a needed node of that level, or a step capturing it.
    boolean[] needed = GraphCut.neededFor(nodes, allTargets);
    Map<String, Integer> lastUse = new HashMap<>();
    for (int n = 0; n < nodes.size(); n++) {
      if (needed[n]) {
        for (String read : GraphCut.reads(nodes.get(n))) {
          lastUse.merge(read, Math.max(level[n], 0), Math::max);
        }
      }
    }
    for (int g = 0; g < wanted.size(); g++) {
      for (String v : wanted.get(g)) {
        lastUse.merge(v, g, Math::max);
      }
    }
    // frontier(g): values of needed, non-constant nodes of level below g read at step g or later.
    List<List<String>> frontiers = new ArrayList<>();
    for (int g = 0; g < wanted.size(); g++) {
      List<String> frontier = new ArrayList<>();
      if (g > 0) {
        for (int n = 0; n < nodes.size(); n++) {
          if (needed[n] && !constant[n] && level[n] < g) {
            for (String out : nodes.get(n).getOutputList()) {
              if (lastUse.getOrDefault(out, -1) >= g) {
                frontier.add(out);
              }
            }
          }
        }
      }
      frontiers.add(List.copyOf(frontier));
    }
    return new GraphSegments(model, List.copyOf(wanted), List.copyOf(frontiers), Set.copyOf(graphInputs));
  }

  /**
   * Where a sequence of weights can be split at a single value of the graph: for each {@code i} in
   * {@code 1..weights.size()-1}, the value that carries everything the weights from {@code i} on
   * receive from the weights before {@code i}, or null when no single value does. For a pre-norm
   * decoder these are the residual stream after each attention and each MLP block; inside a block
   * (between q and k, or v and the output projection) there is none.
   *
   * <p>The value is the latest one that lies on every path from the earlier weights, or from where
   * the data enters the graph (float inputs, embedding lookups), to the values the later weights'
   * part of the graph reads from outside itself: a dominator of those values in the graph of values
   * depending on the earlier weights or the data.
   *
   * @param weights float initializer names in the order their consumers appear
   * @return a list as long as {@code weights}; entry 0 is null
   */
  public static List<String> singleValueCuts(OnnxModel model, List<String> weights) {
    List<Onnx.NodeProto> nodes = model.nodes();
    Map<String, Integer> index = new HashMap<>();
    for (Onnx.NodeProto node : nodes) {
      for (String out : node.getOutputList()) {
        index.putIfAbsent(out, index.size());
      }
    }
    // Where the data enters: float graph inputs and embedding lookups (a Gather from a float
    // initializer). Shape and mask computations from token ids are not data: they do not join the cut.
    Set<String> entries = new HashSet<>();
    for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
      if (input.getType().getTensorType().getElemType() == Onnx.TensorProto.DataType.FLOAT_VALUE) {
        entries.add(input.getName());
      }
    }
    for (Onnx.NodeProto node : nodes) {
      if (node.getOpType().equals("Gather") && model.weights().containsKey(node.getInput(0))) {
        entries.add(node.getInput(0));
      }
    }
    List<String> cuts = new ArrayList<>();
    cuts.add(null);
    for (int i = 1; i < weights.size(); i++) {
      Set<String> before = new HashSet<>(weights.subList(0, i));
      before.addAll(entries);
      Set<String> after = new HashSet<>(weights.subList(i, weights.size()));
      // Dominators, among values depending on the earlier weights, of each such value.
      Map<String, BitSet> dominators = new HashMap<>();
      // The later weights' part: nodes downstream of them; what it reads from outside itself.
      Set<String> downstream = new HashSet<>(after);
      BitSet common = null;
      for (Onnx.NodeProto node : nodes) {
        List<String> reads = GraphCut.reads(node);
        boolean later = reads.stream().anyMatch(downstream::contains);
        if (later) {
          for (String read : reads) {
            BitSet d = dominators.get(read);
            if (d != null && !downstream.contains(read)) {
              if (common == null) {
                common = (BitSet) d.clone();
              } else {
                common.and(d);
              }
            }
          }
          downstream.addAll(node.getOutputList());
        }
        BitSet d = null;
        boolean dependent = false;
        boolean direct = false;
        for (String read : reads) {
          if (before.contains(read)) {
            direct = true;
            dependent = true;
          } else if (dominators.containsKey(read)) {
            dependent = true;
            if (d == null) {
              d = (BitSet) dominators.get(read).clone();
            } else {
              d.and(dominators.get(read));
            }
          }
        }
        if (dependent) {
          for (String out : node.getOutputList()) {
            BitSet own = direct || d == null ? new BitSet() : (BitSet) d.clone();
            own.set(index.get(out));
            dominators.put(out, own);
          }
        }
      }
      String cut = null;
      if (common != null && !common.isEmpty()) {
        int last = common.length() - 1;
        for (Map.Entry<String, Integer> e : index.entrySet()) {
          if (e.getValue() == last) {
            cut = e.getKey();
          }
        }
      }
      cuts.add(cut);
    }
    return cuts;
  }

  /** The number of steps (groups). */
  public int steps() {
    return targets.size();
  }

  /** The values step {@code g} captures. */
  public List<String> targets(int g) {
    return targets.get(g);
  }

  /** The values step {@code g} starts from (none at step 0), in graph order. */
  public List<String> frontier(int g) {
    return frontiers.get(g);
  }

  /** The values of {@code frontier(g)} that step {@code g} computes ({@code g > 0}); the rest are carried. */
  public List<String> advanced(int g) {
    checkAdvance(g);
    List<String> out = new ArrayList<>(frontiers.get(g));
    out.removeAll(new HashSet<>(frontiers.get(g - 1)));
    return out;
  }

  /** The values of {@code targets(g)} that step {@code g} computes: those neither graph inputs nor frontier values. */
  public List<String> captured(int g) {
    List<String> out = new ArrayList<>(targets.get(g));
    out.removeAll(graphInputs);
    out.removeAll(new HashSet<>(frontiers.get(g)));
    return out;
  }

  /**
   * Step {@code g}'s advance as a model: inputs the graph inputs and {@code frontier(g - 1)}'s
   * values it reads (typed as in {@code held}, one batch's frontier values: element type and rank),
   * outputs {@link #advanced}{@code (g)}; null when there is nothing to compute.
   */
  public Onnx.ModelProto advance(int g, Map<String, HeldValue> held) {
    checkAdvance(g);
    return part("advance-" + g, advanced(g), frontiers.get(g - 1), held);
  }

  /**
   * Step {@code g}'s capture as a model: inputs the graph inputs and {@code frontier(g)}'s values it
   * reads (typed as in {@code held}), outputs {@link #captured}{@code (g)}; null when there is
   * nothing to compute.
   */
  public Onnx.ModelProto capture(int g, Map<String, HeldValue> held) {
    return part("capture-" + g, captured(g), frontiers.get(g), held);
  }

  private void checkAdvance(int g) {
    if (g <= 0 || g >= steps()) {
      throw new IllegalArgumentException("step " + g + " of " + steps() + " has no advance");
    }
  }

  /** The nodes computing {@code outputs} from the graph inputs and {@code available}, as a model. */
  private Onnx.ModelProto part(String name, List<String> outputs, List<String> available,
      Map<String, HeldValue> held) {
    if (outputs.isEmpty()) {
      return null;
    }
    List<Onnx.NodeProto> nodes = model.nodes();
    Set<String> given = new HashSet<>(available);
    given.addAll(graphInputs);
    Set<String> wanted = new HashSet<>(outputs);
    wanted.removeAll(given);
    BitSet in = new BitSet(nodes.size());
    for (int n = nodes.size() - 1; n >= 0; n--) {
      Onnx.NodeProto node = nodes.get(n);
      if (node.getOutputList().stream().anyMatch(wanted::contains)) {
        in.set(n);
        for (String read : GraphCut.reads(node)) {
          if (!given.contains(read)) {
            wanted.add(read);
          }
        }
      }
    }
    List<Onnx.NodeProto> part = new ArrayList<>();
    in.stream().forEach(n -> part.add(nodes.get(n)));
    Onnx.GraphProto.Builder g = model.graph().getGraph().toBuilder()
        .clearNode().clearInput().clearOutput().clearInitializer().clearValueInfo().clearSparseInitializer();
    g.setName(g.getName() + "-" + name);
    Set<String> read = new HashSet<>();
    part.forEach(n -> read.addAll(GraphCut.reads(n)));
    for (Onnx.ValueInfoProto input : model.graph().getGraph().getInputList()) {
      if (read.contains(input.getName())) {
        g.addInput(input);
      }
    }
    for (String value : available) {
      if (read.contains(value)) {
        HeldValue h = held.get(value);
        if (h == null) {
          throw new IllegalArgumentException("frontier value " + value + " is not held");
        }
        g.addInput(Onnx.ValueInfoProto.newBuilder().setName(value).setType(h.type()));
      }
    }
    GraphCut.addPart(model, g, part, read);
    for (String value : outputs) {
      g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(value));
    }
    return model.graph().toBuilder().setGraph(g).build();
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("GraphSegments[");
    for (int g = 0; g < steps(); g++) {
      s.append(g == 0 ? "" : ", ").append(g).append(": from ").append(frontiers.get(g).size())
          .append(" values");
    }
    return s.append(']').toString();
  }
}
