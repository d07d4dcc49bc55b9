package dev.lopper.structure;

import static dev.lopper.structure.NodeAttributes.describe;
import static dev.lopper.structure.NodeAttributes.input;
import static dev.lopper.structure.NodeAttributes.nodeName;

import dev.lopper.InvalidInputException;
import dev.lopper.model.OnnxModel;
import dev.lopper.structure.ChannelGroup.Member;
import dev.lopper.structure.ChannelGroup.Role;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * The graph walk behind {@link ModelStructure#analyse}: one pass over the nodes in topological
 * order that tags every value with the channel groups it carries (which axis, where each group's
 * channels lie on it), records how every tensor on the way takes part, unites groups where values
 * are joined element-wise, and blocks a group wherever a tagged value reaches an op it does not
 * follow.
 *
 * <p>Attention heads need a second pass: a q, k or v projection starts a group of single output
 * rows, and only at the Reshape that splits them into [heads, head size] does the walk learn that
 * its channels are heads. The pass records that the seed must be coarsened (blocks of head-size
 * rows) and the walk runs again from the start with those seeds coarse, until nothing changes.
 */
final class ChannelDependencies {

  /**
   * Channels of group {@code seed} on {@code axis} of a value: [offset + c*block, offset + (c+1)*block),
   * and when {@code repeat > 1} the same again every {@code stride} positions (a fused q/k/v
   * projection before its Split: channel c is head c of q, of k and of v).
   */
  private record Tag(int seed, int axis, long offset, long block, long count, long repeat, long stride) {
    Tag(int seed, int axis, long offset, long block, long count) {
      this(seed, axis, offset, block, count, 1, 0);
    }

    Tag at(int newAxis) {
      return new Tag(seed, newAxis, offset, block, count, repeat, stride);
    }

    /** The same channels on an axis whose every position became {@code inner} positions. */
    Tag scaled(int newAxis, long inner) {
      return new Tag(seed, newAxis, offset * inner, block * inner, count, repeat, stride * inner);
    }
  }

  private record Draft(Member member, long order) {}

  /** Ops that map each channel to itself, element by element (other inputs are scalars). */
  private static final Set<String> UNARY = Set.of(
      "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Elu", "Selu", "Celu", "HardSigmoid",
      "HardSwish", "Softplus", "Softsign", "ThresholdedRelu", "Gelu", "Mish", "Abs", "Neg", "Exp",
      "Log", "Sqrt", "Reciprocal", "Erf", "Ceil", "Floor", "Round", "Sign", "Identity", "Cast",
      "Sin", "Cos");
  /** Element-wise ops with broadcasting: an activation operand of full size joins channel spaces. */
  private static final Set<String> ELEMENTWISE = Set.of(
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu");
  private static final Set<String> POOLS = Set.of(
      "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool");

  /**
   * The value every symbolic input dimension other than the first (a sequence length) takes in the
   * analysis; any length works, as a dynamic Reshape's shape is computed from it.
   */
  static final long SEQUENCE = 7;
  /** Passes of the walk at most: each may find groups whose channels must be coarser (heads). */
  private static final int PASSES = 6;

  private final OnnxModel model;
  private final Onnx.GraphProto graph;
  private final Map<String, long[]> shapes;
  private final Map<String, long[]> values;
  /** The value of symbolic dimensions other than the batch in {@link #shapes}, or -1 (unknown). */
  private final long sequence;
  private final Set<String> floatWeights;
  private final Set<String> constants = new HashSet<>();
  private final Map<String, Integer> readers = new HashMap<>();
  private final Map<String, Integer> allReaders = new HashMap<>();
  private final Map<String, Onnx.NodeProto> producers = new HashMap<>();
  private final Map<String, List<Onnx.NodeProto>> consumers = new HashMap<>();
  private final long opset;
  /** Per seed, positions of its weight's axis per channel (1 but for heads); fixed for a pass. */
  private final Map<Integer, Long> granularity;
  /** Per seed, the factor by which its channels must become coarser, found in this pass. */
  private final Map<Integer, Long> coarsen = new HashMap<>();
  /** Per seed, into how many equal parts a Split cuts its outputs (fused q/k/v); fixed for a pass. */
  private final Map<Integer, Long> folds;
  /** Per seed, the parts found in this pass. */
  private final Map<Integer, Long> fold = new HashMap<>();
  /** Values that are a 2-D float initializer transposed ({@code Transpose perm [1, 0]}). */
  private final Map<String, String> transposed = new HashMap<>();
  private final List<List<ChannelGroup.ShapeEdit>> edits = new ArrayList<>();

  private final Map<String, List<Tag>> tags = new HashMap<>();
  private final List<Integer> parent = new ArrayList<>();
  private final List<Long> counts = new ArrayList<>();
  private final List<List<Draft>> members = new ArrayList<>();
  private final List<Set<String>> blockers = new ArrayList<>();
  private long order;

  private ChannelDependencies(OnnxModel model, ShapeInference.Inferred inferred, long sequence,
      Map<Integer, Long> granularity, Map<Integer, Long> folds) {
    this.sequence = sequence;
    this.folds = folds;
    this.model = model;
    this.graph = model.graph().getGraph();
    this.floatWeights = model.weights().keySet();
    this.shapes = inferred.shapes();
    this.values = inferred.values();
    this.granularity = granularity;
    graph.getInitializerList().forEach(t -> constants.add(t.getName()));
    for (Onnx.NodeProto node : graph.getNodeList()) {
      if (node.getOpType().equals("Constant")) {
        constants.addAll(node.getOutputList());
      }
      node.getOutputList().forEach(o -> producers.put(o, node));
      for (String in : node.getInputList()) {
        if (constants.contains(in)) {
          readers.merge(in, 1, Integer::sum);
        }
        allReaders.merge(in, 1, Integer::sum);
        consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node);
      }
    }
    this.opset = model.graph().getOpsetImportList().stream()
        .filter(o -> o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx"))
        .mapToLong(Onnx.OperatorSetIdProto::getVersion).max().orElse(13);
  }

  static ModelStructure analyse(OnnxModel model) {
    ShapeInference.Inferred inferred;
    long sequence = SEQUENCE;
    try {
      inferred = ShapeInference.inferWithValues(model.graph().getGraph(), 1, sequence);
    } catch (IllegalArgumentException atSequence) {
      // Other symbolic dimensions that are not a sequence (an image's height) may not take the
      // value 7; such a model is analysed with them unknown, as before.
      sequence = -1;
      try {
        inferred = ShapeInference.inferWithValues(model.graph().getGraph(), 1, sequence);
      } catch (IllegalArgumentException e) {
        throw new InvalidInputException(model.source().onnxPath() + ": inconsistent shapes: " + e.getMessage(), e);
      }
    }
    Map<Integer, Long> granularity = new HashMap<>();
    Map<Integer, Long> folds = new HashMap<>();
    for (int pass = 1; ; pass++) {
      ChannelDependencies walk = new ChannelDependencies(model, inferred, sequence, granularity, folds);
      walk.walk();
      if ((walk.coarsen.isEmpty() && walk.fold.isEmpty()) || pass == PASSES) {
        Set<Integer> unsettled = new HashSet<>(walk.coarsen.keySet());
        unsettled.addAll(walk.fold.keySet());
        unsettled.forEach(s -> walk.blockers.get(s).add("the channels' granularity did"
            + " not settle in " + PASSES + " passes (heads of different sizes joined?)"));
        return walk.run();
      }
      // Heads: some seeds' channels must go in blocks (a head's rows) or fold over the parts of a
      // Split (fused q/k/v); walk again with them.
      Map<Integer, Long> next = new HashMap<>(granularity);
      walk.coarsen.forEach((s, f) -> next.merge(s, f, (a, b) -> a * b));
      granularity = next;
      Map<Integer, Long> nextFolds = new HashMap<>(folds);
      nextFolds.putAll(walk.fold);
      folds = nextFolds;
    }
  }

  private void walk() {
    for (Onnx.NodeProto node : graph.getNodeList()) {
      visit(node);
    }
  }

  private ModelStructure run() {
    for (Onnx.ValueInfoProto output : graph.getOutputList()) {
      for (Tag t : tagsOf(output.getName())) {
        block(t, "its channels reach graph output " + output.getName()
            + ", whose shape is part of the model's interface");
      }
    }
    boolean controlFlow = graph.getNodeList().stream().anyMatch(n -> n.getAttributeList().stream()
        .anyMatch(a -> a.hasG() || a.getGraphsCount() > 0));
    for (int s = 0; s < parent.size(); s++) {
      if (controlFlow) {
        blockers.get(s).add("the graph has control flow (If, Loop or Scan), whose subgraphs are not analysed");
      }
      for (Draft d : members.get(s)) {
        int n = readers.getOrDefault(d.member().tensor(), 0);
        if (n > 1) {
          blockers.get(s).add("tensor " + d.member().tensor() + " is read by " + n + " node inputs (shared weights)");
        }
      }
    }
    return assemble();
  }

  // ------------------------------------------------------------------------------------ nodes

  private void visit(Onnx.NodeProto node) {
    boolean standard = node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
    String op = standard ? node.getOpType() : node.getDomain() + "." + node.getOpType();
    switch (op) {
      case "Conv" -> conv(node);
      case "Gemm" -> gemm(node);
      case "MatMul" -> matMul(node);
      case "BatchNormalization", "InstanceNormalization" -> normalization(node);
      case "Flatten" -> flatten(node);
      case "Concat" -> concat(node);
      case "Reshape" -> reshape(node);
      case "Transpose" -> transpose(node);
      case "Shape" -> shape(node);
      case "Split" -> split(node);
      case "Softmax", "LogSoftmax", "Hardmax" -> softmax(node);
      case "Dropout" -> {
        if (node.getOutputCount() > 1 && !node.getOutput(1).isEmpty()) {
          blockInputs(node, "node " + describe(node) + " outputs its mask, which is not followed");
        } else {
          passThrough(node);
        }
      }
      default -> {
        if (UNARY.contains(op)) {
          passThrough(node);
        } else if (POOLS.contains(op)) {
          pool(node);
        } else if (ELEMENTWISE.contains(op)) {
          elementwise(node);
        } else {
          blockInputs(node, "its channels reach node " + nodeName(node) + " (" + op
              + "), an op structured pruning does not see through");
        }
      }
    }
  }

  private void conv(Onnx.NodeProto node) {
    String x = input(node, 0);
    String w = input(node, 1);
    String b = input(node, 2);
    String name = describe(node);
    blockTagged(node, 1, name + " reads the channels as its weight");
    blockTagged(node, 2, name + " reads the channels as its bias");
    List<Tag> in = tagsOf(x);
    if (!floatWeights.contains(w)) {
      blockAll(in, "node " + name + " has a weight that is not a float initializer");
      return;
    }
    long[] ws = shapes.get(w);
    long group = NodeAttributes.integer(node, "group", 1);
    if (group == 1) {
      for (Tag t : in) {
        if (t.axis() != 1) {
          block(t, "node " + name + " reads the channels on axis " + t.axis() + ", not as input channels");
        } else {
          member(t, w, Role.INPUT, 1, node);
        }
      }
      seed(node, w, 0, b, 0, ws[0], 1);
    } else if (ws[1] == 1 && ws[0] == group) {
      // Depthwise: filter c reads input channel c only, so input and output channels go together.
      List<Tag> out = new ArrayList<>();
      for (Tag t : in) {
        if (t.axis() != 1) {
          block(t, "node " + name + " reads the channels on axis " + t.axis());
          continue;
        }
        member(t, w, Role.PARAMETER, 0, node);
        if (!b.isEmpty()) {
          if (floatWeights.contains(b)) {
            member(t, b, Role.PARAMETER, 0, node);
          } else {
            block(t, "depthwise node " + name + " has a bias that is not a float initializer");
          }
        }
        out.add(t);
      }
      setTags(node.getOutput(0), out);
    } else {
      String why = "node " + name + " is a grouped convolution (group=" + group
          + "), whose groups tie input and output channels together";
      blockAll(in, why);
      int s = seed(node, w, 0, b, 0, ws[0], 1);
      blockers.get(s).add(why);
    }
  }

  private void gemm(Onnx.NodeProto node) {
    String a = input(node, 0);
    String b = input(node, 1);
    String c = input(node, 2);
    String name = describe(node);
    boolean transA = NodeAttributes.integer(node, "transA", 0) != 0;
    boolean transB = NodeAttributes.integer(node, "transB", 0) != 0;
    blockTagged(node, 1, "node " + name + " reads the channels as its operand B");
    blockTagged(node, 2, "node " + name + " reads the channels as its operand C");
    List<Tag> in = tagsOf(a);
    if (!floatWeights.contains(b) || constants.contains(a)) {
      blockAll(in, "node " + name + " has no float initializer as operand B; only X·W with W an"
          + " initializer is followed");
      return;
    }
    long[] bs = shapes.get(b);
    for (Tag t : in) {
      if (transA || t.axis() != 1) {
        block(t, "node " + name + " reads the channels on axis " + t.axis()
            + (transA ? " of a transposed A" : "") + ", not as input columns");
      } else {
        member(t, b, Role.INPUT, transB ? 1 : 0, node);
      }
    }
    long n = transB ? bs[0] : bs[1];
    int biasAxis = -1;
    String bias = "";
    String biasProblem = null;
    if (!c.isEmpty()) {
      long[] cs = shapes.get(c);
      if (!floatWeights.contains(c)) {
        biasProblem = "node " + name + " has a bias C that is not a float initializer";
      } else if (cs.length == 1 && cs[0] == n && n > 1) {
        bias = c;
        biasAxis = 0;
      } else if (cs.length == 2 && cs[0] == 1 && cs[1] == n && n > 1) {
        bias = c;
        biasAxis = 1;
      } else if (NodeAttributes.product(cs, 0, cs.length) != 1) {
        biasProblem = "node " + name + " has a bias C of shape " + Arrays.toString(cs)
            + ", which is not one value per output neuron";
      }
    }
    int s = seed(node, b, transB ? 0 : 1, bias, biasAxis, n, 1);
    if (biasProblem != null) {
      blockers.get(s).add(biasProblem);
    }
  }

  private void matMul(Onnx.NodeProto node) {
    String a = input(node, 0);
    String b = input(node, 1);
    String name = describe(node);
    String w = transposed.getOrDefault(b, b);
    boolean weight = floatWeights.contains(w);
    if (!weight && !constants.contains(a) && !constants.contains(b)) {
      batchedMatMul(node);
      return;
    }
    blockTagged(node, 1, "node " + name + " reads the channels as its right operand");
    List<Tag> in = tagsOf(a);
    long[] bs = shapes.get(b);
    if (!weight || bs == null || bs.length != 2 || constants.contains(a)) {
      blockAll(in, "node " + name + " does not multiply by a float initializer matrix on the right;"
          + " only X·W with W an initializer is followed");
      return;
    }
    long[] as = shapes.get(a);
    long[] out = shapes.get(node.getOutput(0));
    for (Tag t : in) {
      if (as == null || t.axis() != as.length - 1) {
        block(t, "node " + name + " reads the channels on axis " + t.axis()
            + " of its left operand; only its last axis is followed");
      } else {
        member(t, w, Role.INPUT, w.equals(b) ? 0 : 1, node);
      }
    }
    int outAxis = out == null ? 1 : out.length - 1;
    // A weight stored [out, in] and transposed at run time (torch.onnx.export): rows are outputs.
    int s = seed(node, w, w.equals(b) ? 1 : 0, "", -1, bs[1], outAxis);
    if (out == null) {
      blockers.get(s).add("the shape of node " + name + "'s output is unknown");
    }
    if (!w.equals(b) && allReaders.getOrDefault(b, 0) > 1) {
      blockers.get(s).add("the transposed weight " + b + " is read by " + allReaders.get(b)
          + " node inputs (shared weights)");
    }
  }

  /**
   * A MatMul of two activations (attention's Q·Kᵀ and P·V): channels on a batch axis pass on when
   * both operands carry the same channels there (their groups are united) or one broadcasts it;
   * A's rows and B's columns pass to the output's rows and columns; channels on the contracted
   * axis are mixed and block.
   */
  private void batchedMatMul(Onnx.NodeProto node) {
    String a = input(node, 0);
    String b = input(node, 1);
    List<Tag> ta = tagsOf(a);
    List<Tag> tb = tagsOf(b);
    if (ta.isEmpty() && tb.isEmpty()) {
      return;
    }
    long[] as = shapes.get(a);
    long[] bs = shapes.get(b);
    long[] os = shapes.get(node.getOutput(0));
    List<Tag> all = new ArrayList<>(ta);
    all.addAll(tb);
    if (as == null || bs == null || os == null || as.length < 2 || bs.length < 2) {
      blockAll(all, "the shapes around node " + describe(node) + " are unknown or not matrices");
      return;
    }
    int ra = as.length;
    int rb = bs.length;
    int ro = os.length;
    List<Tag> out = new ArrayList<>();
    for (int side = 0; side < 2; side++) {
      List<Tag> tags = side == 0 ? ta : tb;
      int rank = side == 0 ? ra : rb;
      int contracted = side == 0 ? rank - 1 : rank - 2;
      int kept = side == 0 ? rank - 2 : rank - 1;
      for (Tag t : tags) {
        if (t.axis() == contracted) {
          block(t, "node " + describe(node) + " sums over the channels (axis " + t.axis()
              + " of " + (side == 0 ? "its left" : "its right") + " operand)");
        } else if (t.axis() == kept) {
          out.add(t.at(side == 0 ? ro - 2 : ro - 1));
        }
      }
    }
    for (int o = 0; o < ro - 2; o++) {
      List<Tag> here = new ArrayList<>();
      List<Long> sizes = new ArrayList<>();
      List<List<Tag>> operands = new ArrayList<>();
      for (int side = 0; side < 2; side++) {
        long[] shape = side == 0 ? as : bs;
        int local = o - (ro - shape.length);
        long size = local >= 0 ? shape[local] : 1;
        List<Tag> tags = new ArrayList<>();
        for (Tag t : side == 0 ? ta : tb) {
          if (t.axis() == local) {
            tags.add(t.at(o));
          }
        }
        here.addAll(tags);
        sizes.add(size);
        operands.add(sorted(tags));
      }
      if (here.isEmpty()) {
        continue;
      }
      List<Tag> reference = null;
      String problem = null;
      for (int side = 0; side < 2; side++) {
        List<Tag> tags = operands.get(side);
        if (sizes.get(side) == 1) {
          continue;
        }
        if (tags.isEmpty()) {
          problem = "node " + describe(node) + " joins the channels on axis " + o
              + " with an operand whose channels come from no traced weight";
        } else if (reference == null) {
          reference = tags;
        } else if (!sameLayout(reference, tags)) {
          problem = coarsenToMatch(reference, tags)
              ? "node " + describe(node) + " joins heads with single rows, which the next pass coarsens"
              : "node " + describe(node) + " joins values whose channels are laid out differently";
        } else {
          for (int i = 0; i < tags.size(); i++) {
            union(reference.get(i).seed(), tags.get(i).seed());
          }
        }
      }
      if (problem != null || reference == null) {
        blockAll(here, problem == null ? "node " + describe(node) + " is not followed" : problem);
      } else {
        out.addAll(reference);
      }
    }
    setTags(node.getOutput(0), out);
  }

  /**
   * When two layouts differ only in how many positions make a channel (one side's channels are
   * heads, the other's single rows), asks for the finer seeds to be coarsened in the next pass.
   */
  private boolean coarsenToMatch(List<Tag> a, List<Tag> b) {
    if (a.size() != b.size()) {
      return false;
    }
    boolean asked = false;
    for (int i = 0; i < a.size(); i++) {
      Tag x = a.get(i);
      Tag y = b.get(i);
      if (x.offset() != y.offset() || x.count() * x.block() != y.count() * y.block()
          || x.repeat() != y.repeat() || x.stride() != y.stride()) {
        return false;
      }
      if (x.block() < y.block() && y.block() % x.block() == 0) {
        coarsen.merge(x.seed(), y.block() / x.block(), Math::max);
        asked = true;
      } else if (y.block() < x.block() && x.block() % y.block() == 0) {
        coarsen.merge(y.seed(), x.block() / y.block(), Math::max);
        asked = true;
      }
    }
    return asked;
  }

  /**
   * Transpose: of a 2-D float initializer with perm [1, 0], remembered as that weight read
   * transposed (the MatMul after it reads the weight's rows as outputs); of a value with channels,
   * the channels move with their axis.
   */
  private void transpose(Onnx.NodeProto node) {
    String x = input(node, 0);
    long[] perm = NodeAttributes.integers(node, "perm");
    long[] shape = shapes.get(x);
    if (floatWeights.contains(x)) {
      if (shape != null && shape.length == 2 && (perm == null || Arrays.equals(perm, new long[] {1, 0}))) {
        transposed.put(node.getOutput(0), x);
      }
      return;
    }
    List<Tag> in = tagsOf(x);
    if (in.isEmpty()) {
      return;
    }
    if (shape == null) {
      blockAll(in, "the shape before node " + describe(node) + " is unknown");
      return;
    }
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      for (int j = 0; j < shape.length; j++) {
        int from = perm == null ? shape.length - 1 - j : (int) perm[j];
        if (from == t.axis()) {
          out.add(t.at(j));
        }
      }
    }
    setTags(node.getOutput(0), out);
  }

  /**
   * Shape of a value with channels: harmless when every reader is a Gather of an axis without
   * channels (the batch and sequence sizes a dynamic Reshape copies); anything else could carry
   * the channel count somewhere the shrinker does not rewrite.
   */
  private void shape(Onnx.NodeProto node) {
    List<Tag> in = tagsOf(input(node, 0));
    if (in.isEmpty()) {
      return;
    }
    long[] dims = shapes.get(input(node, 0));
    long start = NodeAttributes.integer(node, "start", 0);
    long[] read = dims == null ? null : IntegerValues.evaluate(node, shapes, values);
    for (Onnx.NodeProto reader : consumers.getOrDefault(node.getOutput(0), List.of())) {
      long[] index = values.get(input(reader, 1));
      boolean harmless = reader.getOpType().equals("Gather") && input(reader, 0).equals(node.getOutput(0))
          && index != null && read != null;
      for (int k = 0; harmless && k < index.length; k++) {
        // An index into the Shape output, which starts at axis `start` (opset 15) of the input.
        long i = index[k] < 0 ? index[k] + read.length : index[k];
        long axis = (start < 0 ? start + dims.length : start) + i;
        harmless = in.stream().noneMatch(t -> t.axis() == axis);
      }
      if (!harmless) {
        blockAll(in, "node " + describe(node) + " reads the shape of the channels' axis (read by "
            + describe(reader) + ")");
        return;
      }
    }
  }

  /**
   * Reshape with a shape known for the analysis' batch and sequence length: each tagged axis is
   * found among the output's axes by the product of the axes before it. Split into [H, D] with a
   * channel of whole heads, it moves to the H axis; split below a channel, the channels must first
   * become heads (the seed is coarsened and the walk runs again); merged as the outer axis of
   * [H, D], its channels become blocks of D. Every output entry that holds channels is recorded as
   * a {@link ChannelGroup.ShapeEdit} for the shrinker.
   */
  private void reshape(Onnx.NodeProto node) {
    List<Tag> in = tagsOf(input(node, 0));
    blockTagged(node, 1, "node " + describe(node) + " reads the channels as its shape");
    if (in.isEmpty()) {
      return;
    }
    long[] is = shapes.get(input(node, 0));
    long[] os = shapes.get(node.getOutput(0));
    if (is == null || os == null) {
      blockAll(in, "the shape after node " + describe(node) + " is unknown (its shape input is not"
          + " computed from constants and input sizes)");
      return;
    }
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      long prefix = NodeAttributes.product(is, 0, t.axis());
      long n = is[t.axis()];
      int j = 0;
      while (j < os.length && NodeAttributes.product(os, 0, j) < prefix) {
        j++;
      }
      while (j < os.length && os[j] == 1 && n != 1) {
        j++;
      }
      if (j >= os.length || NodeAttributes.product(os, 0, j) != prefix) {
        block(t, "node " + describe(node) + " reshapes " + Arrays.toString(is) + " to "
            + Arrays.toString(os) + ", which mixes the channels' axis " + t.axis() + " with others");
        continue;
      }
      Tag moved;
      if (os[j] == n) {
        moved = t.at(j);
      } else if (os[j] < n && n % os[j] == 0) {
        long inner = n / os[j];
        if (t.block() % inner == 0 && t.offset() % inner == 0) {
          moved = t.repeat() > 1 ? null : new Tag(t.seed(), j, t.offset() / inner, t.block() / inner, t.count());
        } else if (inner % t.block() == 0 && t.offset() == 0 && t.count() * t.block() == n
            && t.count() % (inner / t.block()) == 0) {
          coarsen.merge(t.seed(), inner / t.block(), Math::max);
          block(t, "node " + describe(node) + " splits the channels into blocks of " + inner
              + " (heads), which the next pass starts from");
          continue;
        } else {
          block(t, "node " + describe(node) + " splits axis " + t.axis() + " of " + n
              + " into " + os[j] + " parts that cut through its channels");
          continue;
        }
      } else {
        int k = t.axis() + 1;
        long merged = n;
        while (k < is.length && merged < os[j]) {
          merged *= is[k++];
        }
        if (merged != os[j]) {
          block(t, "node " + describe(node) + " reshapes " + Arrays.toString(is) + " to "
              + Arrays.toString(os) + ", which mixes the channels' axis " + t.axis() + " with others");
          continue;
        }
        long inner = merged / n;
        moved = t.scaled(j, inner);
      }
      if (moved == null) {
        block(t, "node " + describe(node) + " splits channels that repeat in parts (a fused projection"
            + " before its Split)");
        continue;
      }
      String problem = recordEdit(node, moved, is, os);
      if (problem != null) {
        block(t, problem);
        continue;
      }
      out.add(moved);
    }
    setTags(node.getOutput(0), out);
  }

  /**
   * Finds the constant element of a Reshape's shape that sizes the channels' output axis and
   * records how to rewrite it; returns why not when it cannot. An entry of -1 (inferred) or 0
   * (copied from the same, equally cut input axis) needs no rewrite.
   */
  private String recordEdit(Onnx.NodeProto node, Tag t, long[] is, long[] os) {
    String target = input(node, 1);
    long[] shape = values.get(target);
    String name = describe(node);
    if (shape == null || shape.length != os.length) {
      return "the shape of node " + name + " is not known as integers";
    }
    long entry = shape[t.axis()];
    boolean allowZero = NodeAttributes.integer(node, "allowzero", 0) != 0;
    if (entry == -1) {
      return null;
    }
    if (entry == 0 && !allowZero) {
      List<Tag> before = tagsOf(input(node, 0));
      boolean same = t.axis() < is.length && is[t.axis()] == os[t.axis()]
          && before.stream().anyMatch(b -> b.axis() == t.axis() && b.seed() == t.seed());
      return same ? null : "node " + name + " copies dimension " + t.axis() + " of its input, which"
          + " is not the channels' axis";
    }
    Onnx.NodeProto holder = node;
    int input = 1;
    int position = t.axis();
    String value = target;
    Onnx.NodeProto concat = producers.get(target);
    if (!constants.contains(target) && concat != null && concat.getOpType().equals("Concat")) {
      if (allReaders.getOrDefault(target, 0) > 1) {
        return "the shape " + target + " of node " + name + " is read by " + allReaders.get(target)
            + " nodes";
      }
      int offset = 0;
      for (int k = 0; k < concat.getInputCount(); k++) {
        long[] part = values.get(concat.getInput(k));
        if (part == null) {
          return "the shape of node " + name + " is not known as integers";
        }
        if (position < offset + part.length) {
          holder = concat;
          input = k;
          position -= offset;
          value = concat.getInput(k);
          break;
        }
        offset += part.length;
      }
    }
    if (!fromConstants(value)) {
      return "the size " + entry + " in the shape of node " + name + " is computed (" + value
          + "), not a constant Lopper can rewrite";
    }
    if (entry != os[t.axis()]) {
      return "the shape of node " + name + " does not hold the channels' size " + os[t.axis()];
    }
    edits.get(t.seed()).add(new ChannelGroup.ShapeEdit(nodeName(holder), input, values.get(value),
        position, t.block(), nodeName(node)));
    return null;
  }

  /**
   * Split: channels on another axis go to every part. On their own axis, channels that repeat once
   * per part (a fused q/k/v projection, folded in an earlier pass) go to each part at their offset
   * in it, and the split sizes are recorded for the shrinker; channels that cover the axis and
   * divide into equal parts ask for the seed to be folded over the parts in the next pass (head c
   * of q, k and v is then one channel). Anything else blocks.
   */
  private void split(Onnx.NodeProto node) {
    List<Tag> in = tagsOf(input(node, 0));
    if (in.isEmpty()) {
      return;
    }
    long[] shape = shapes.get(input(node, 0));
    String name = describe(node);
    if (shape == null) {
      blockAll(in, "the shape before node " + name + " is unknown");
      return;
    }
    int axis = (int) NodeAttributes.integer(node, "axis", 0);
    axis = axis < 0 ? axis + shape.length : axis;
    int parts = node.getOutputCount();
    String sizesInput = input(node, 1);
    long[] sizes = sizesInput.isEmpty() ? NodeAttributes.integers(node, "split") : values.get(sizesInput);
    if (sizes == null && sizesInput.isEmpty()) {
      sizes = new long[parts];
      java.util.Arrays.fill(sizes, shape[axis] / parts);
    }
    List<List<Tag>> out = new ArrayList<>();
    for (int k = 0; k < parts; k++) {
      out.add(new ArrayList<>());
    }
    for (Tag t : in) {
      if (t.axis() != axis) {
        out.forEach(o -> o.add(t));
        continue;
      }
      boolean equal = sizes != null && sizes.length == parts
          && Arrays.stream(sizes).allMatch(x -> x == shape[t.axis()] / parts) && shape[t.axis()] % parts == 0;
      long part = equal ? sizes[0] : -1;
      if (!equal) {
        block(t, "node " + name + " splits the channels into parts of different or unknown sizes");
      } else if (t.repeat() == 1 && t.offset() == 0 && t.count() * t.block() == shape[t.axis()]
          && part % t.block() == 0 && t.count() % parts == 0) {
        fold.put(t.seed(), (long) parts);
        block(t, "node " + name + " splits the channels into " + parts + " parts, which the next pass folds");
      } else if (t.repeat() == parts && t.stride() == part && t.offset() + t.count() * t.block() <= part) {
        if (sizesInput.isEmpty() || !fromConstants(sizesInput)) {
          block(t, "node " + name + " has split sizes that are not a constant input Lopper can rewrite");
          continue;
        }
        for (int k = 0; k < parts; k++) {
          out.get(k).add(new Tag(t.seed(), t.axis(), t.offset(), t.block(), t.count()));
          edits.get(t.seed()).add(new ChannelGroup.ShapeEdit(nodeName(node), 1, sizes, k, t.block(), nodeName(node)));
        }
      } else {
        block(t, "node " + name + " splits through the channels");
      }
    }
    for (int k = 0; k < parts; k++) {
      setTags(node.getOutput(k), out.get(k));
    }
  }

  /** True when {@code value} is a constant, or Unsqueeze/Squeeze/Cast/Identity of one. */
  private boolean fromConstants(String value) {
    for (int depth = 0; depth < 8; depth++) {
      if (constants.contains(value)) {
        return true;
      }
      Onnx.NodeProto p = producers.get(value);
      if (p == null || !Set.of("Unsqueeze", "Squeeze", "Cast", "Identity").contains(p.getOpType())) {
        return false;
      }
      value = input(p, 0);
    }
    return false;
  }

  private void normalization(Onnx.NodeProto node) {
    String name = describe(node);
    int params = node.getOpType().equals("BatchNormalization") ? 5 : 3;
    for (int i = 1; i < node.getInputCount(); i++) {
      blockTagged(node, i, "node " + name + " reads the channels as a parameter");
    }
    List<Tag> in = tagsOf(input(node, 0));
    if (node.getOutputList().stream().skip(1).anyMatch(o -> !o.isEmpty())) {
      blockAll(in, "node " + name + " is in training mode (it outputs running statistics)");
      return;
    }
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      if (t.axis() != 1) {
        block(t, "node " + name + " normalises axis 1, the channels are on axis " + t.axis());
        continue;
      }
      for (int i = 1; i < Math.min(params, node.getInputCount()); i++) {
        String p = node.getInput(i);
        if (floatWeights.contains(p)) {
          member(t, p, Role.PARAMETER, 0, node);
        } else {
          block(t, "node " + name + " has parameter " + p + ", which is not a float initializer");
        }
      }
      out.add(t);
    }
    setTags(node.getOutput(0), out);
  }

  private void pool(Onnx.NodeProto node) {
    String name = describe(node);
    List<Tag> in = tagsOf(input(node, 0));
    if (node.getOpType().equals("MaxPool") && node.getOutputCount() > 1 && !node.getOutput(1).isEmpty()) {
      blockAll(in, "node " + name + " outputs indices, which are not followed");
      return;
    }
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      if (t.axis() != 1) {
        block(t, "node " + name + " pools a tensor whose channels are on axis " + t.axis());
      } else {
        out.add(t);
      }
    }
    setTags(node.getOutput(0), out);
  }

  private void passThrough(Onnx.NodeProto node) {
    for (int i = 1; i < node.getInputCount(); i++) {
      blockTagged(node, i, "node " + describe(node) + " reads the channels as an extra input");
    }
    setTags(node.getOutput(0), tagsOf(input(node, 0)));
  }

  private void softmax(Onnx.NodeProto node) {
    List<Tag> in = tagsOf(input(node, 0));
    long[] shape = shapes.get(input(node, 0));
    if (in.isEmpty()) {
      return;
    }
    if (shape == null) {
      blockAll(in, "the shape before node " + describe(node) + " is unknown");
      return;
    }
    long axis = NodeAttributes.integer(node, "axis", opset >= 13 ? -1 : 1);
    if (axis < 0) {
      axis += shape.length;
    }
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      // Before opset 13 the op normalises over every axis from `axis` on.
      boolean mixes = opset >= 13 ? t.axis() == axis : t.axis() >= axis;
      if (mixes) {
        block(t, "node " + describe(node) + " normalises over the channel axis");
      } else {
        out.add(t);
      }
    }
    setTags(node.getOutput(0), out);
  }

  private void flatten(Onnx.NodeProto node) {
    List<Tag> in = tagsOf(input(node, 0));
    long[] shape = shapes.get(input(node, 0));
    List<Tag> out = new ArrayList<>();
    for (Tag t : in) {
      if (shape == null) {
        block(t, "the shape before node " + describe(node) + " is unknown, so the columns of each"
            + " channel after it are not known");
        continue;
      }
      long axis = NodeAttributes.integer(node, "axis", 1);
      if (axis < 0) {
        axis += shape.length;
      }
      if (t.axis() != axis) {
        block(t, "node " + describe(node) + " flattens from axis " + axis + ", which interleaves"
            + " the channels on axis " + t.axis() + " with other axes");
        continue;
      }
      long inner = NodeAttributes.product(shape, t.axis() + 1, shape.length);
      out.add(t.scaled(1, inner));
    }
    setTags(node.getOutput(0), out);
  }

  private void concat(Onnx.NodeProto node) {
    long[] outShape = shapes.get(node.getOutput(0));
    List<Tag> all = new ArrayList<>();
    node.getInputList().forEach(in -> all.addAll(tagsOf(in)));
    if (all.isEmpty()) {
      return;
    }
    if (outShape == null) {
      blockAll(all, "the shapes around node " + describe(node) + " are unknown");
      return;
    }
    long axis = NodeAttributes.integer(node, "axis", 0);
    if (axis < 0) {
      axis += outShape.length;
    }
    List<Tag> out = new ArrayList<>();
    long prefix = 0;
    Set<Integer> otherAxes = new LinkedHashSet<>();
    for (String in : node.getInputList()) {
      for (Tag t : tagsOf(in)) {
        if (t.axis() == axis) {
          out.add(new Tag(t.seed(), t.axis(), t.offset() + prefix, t.block(), t.count(), t.repeat(), t.stride()));
        } else {
          otherAxes.add(t.axis());
        }
      }
      prefix += shapes.get(in)[(int) axis];
    }
    for (int other : otherAxes) {
      out.addAll(join(node, other, outShape.length));
    }
    setTags(node.getOutput(0), out);
  }

  private void elementwise(Onnx.NodeProto node) {
    long[] outShape = shapes.get(node.getOutput(0));
    List<Tag> all = new ArrayList<>();
    node.getInputList().forEach(in -> all.addAll(tagsOf(in)));
    if (all.isEmpty()) {
      return;
    }
    if (outShape == null) {
      blockAll(all, "the shapes around node " + describe(node) + " are unknown");
      return;
    }
    Set<Integer> axes = new LinkedHashSet<>();
    for (String in : node.getInputList()) {
      int shift = outShape.length - shapes.get(in).length;
      tagsOf(in).forEach(t -> axes.add(t.axis() + shift));
    }
    List<Tag> out = new ArrayList<>();
    for (int axis : axes) {
      out.addAll(join(node, axis, outShape.length));
    }
    setTags(node.getOutput(0), out);
  }

  /**
   * The tags on output axis {@code axis} of an element-wise {@code node} (or a Concat's other
   * axes): every operand of full size on that axis must carry the same channel layout (their
   * groups are united), or be a float initializer (a per-channel parameter); an operand of size 1
   * broadcasts. Anything else blocks the groups involved.
   */
  private List<Tag> join(Onnx.NodeProto node, int axis, int rank) {
    List<Tag> reference = null;
    List<String> params = new ArrayList<>();
    List<Integer> paramAxes = new ArrayList<>();
    List<List<Tag>> others = new ArrayList<>();
    List<Tag> involved = new ArrayList<>();
    String problem = null;
    for (String in : node.getInputList()) {
      if (in.isEmpty()) {
        continue;
      }
      long[] s = shapes.get(in);
      int local = axis - (rank - (s == null ? rank : s.length));
      List<Tag> here = new ArrayList<>();
      for (Tag t : tagsOf(in)) {
        if (t.axis() == local) {
          here.add(t.at(axis));
        }
      }
      involved.addAll(here);
      if (s == null) {
        problem = "the shape of " + in + " at node " + describe(node) + " is unknown";
        continue;
      }
      long d = local >= 0 ? s[local] : 1;
      if (d == 1) {
        continue; // broadcast along the channels: every channel sees the same value
      }
      if (constants.contains(in)) {
        if (floatWeights.contains(in)) {
          params.add(in);
          paramAxes.add(local);
        } else {
          problem = "node " + describe(node) + " combines the channels with constant " + in
              + ", which is not a float initializer";
        }
      } else if (here.isEmpty()) {
        problem = "node " + describe(node) + " joins the channels with " + in
            + ", whose channels come from no traced weight";
      } else if (reference == null) {
        reference = sorted(here);
      } else {
        others.add(sorted(here));
      }
    }
    if (problem == null && reference != null) {
      for (List<Tag> other : others) {
        if (!sameLayout(reference, other)) {
          problem = coarsenToMatch(reference, other)
              ? "node " + describe(node) + " joins heads with single rows, which the next pass coarsens"
              : "node " + describe(node) + " joins values whose channels are laid out differently";
        }
      }
    }
    if (problem != null || reference == null) {
      blockAll(involved, problem == null ? "node " + describe(node) + " is not followed" : problem);
      return List.of();
    }
    for (List<Tag> other : others) {
      for (int i = 0; i < other.size(); i++) {
        union(reference.get(i).seed(), other.get(i).seed());
      }
    }
    for (int p = 0; p < params.size(); p++) {
      for (Tag t : reference) {
        member(t, params.get(p), Role.PARAMETER, paramAxes.get(p), node);
      }
    }
    return reference;
  }

  private static List<Tag> sorted(List<Tag> tags) {
    List<Tag> out = new ArrayList<>(tags);
    out.sort(Comparator.comparingLong(Tag::offset));
    return out;
  }

  private static boolean sameLayout(List<Tag> a, List<Tag> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      Tag x = a.get(i);
      Tag y = b.get(i);
      if (x.offset() != y.offset() || x.block() != y.block() || x.count() != y.count()
          || x.repeat() != y.repeat() || x.stride() != y.stride()) {
        return false;
      }
    }
    return true;
  }

  // ------------------------------------------------------------------------------------ groups

  /** A new group for the output channels of {@code weight}; its tag goes on the node's output. */
  private int seed(Onnx.NodeProto node, String weight, int weightAxis, String bias, int biasAxis,
      long channels, int outAxis) {
    int s = parent.size();
    long block = granularity.getOrDefault(s, 1L);
    long parts = folds.getOrDefault(s, 1L);
    long stride = channels / parts;
    parent.add(s);
    counts.add(stride / block);
    members.add(new ArrayList<>());
    blockers.add(new LinkedHashSet<>());
    edits.add(new ArrayList<>());
    if (channels % parts != 0 || stride % block != 0) {
      blockers.get(s).add("the " + channels + " outputs of node " + describe(node)
          + " do not split into " + parts + " parts of channels of " + block);
    }
    Tag t = new Tag(s, outAxis, 0, block, stride / block, parts, parts > 1 ? stride : 0);
    member(t, weight, Role.OUTPUT, weightAxis, node);
    if (!bias.isEmpty()) {
      if (floatWeights.contains(bias)) {
        member(t, bias, Role.PARAMETER, biasAxis, node);
      } else {
        blockers.get(s).add("node " + describe(node) + " has a bias that is not a float initializer");
      }
    }
    setTags(node.getOutput(0), List.of(t));
    return s;
  }

  private void member(Tag t, String tensor, Role role, int axis, Onnx.NodeProto node) {
    for (long r = 0; r < t.repeat(); r++) {
      members.get(t.seed()).add(new Draft(
          new Member(tensor, role, axis, t.offset() + r * t.stride(), t.block(), nodeName(node)), order++));
    }
  }

  private int find(int s) {
    while (parent.get(s) != s) {
      parent.set(s, parent.get(parent.get(s)));
      s = parent.get(s);
    }
    return s;
  }

  private void union(int a, int b) {
    int ra = find(a);
    int rb = find(b);
    if (ra != rb) {
      parent.set(Math.max(ra, rb), Math.min(ra, rb));
    }
  }

  private void block(Tag t, String reason) {
    blockers.get(t.seed()).add(reason);
  }

  private void blockAll(List<Tag> tags, String reason) {
    tags.forEach(t -> block(t, reason));
  }

  private void blockTagged(Onnx.NodeProto node, int input, String reason) {
    blockAll(tagsOf(input(node, input)), reason);
  }

  private void blockInputs(Onnx.NodeProto node, String reason) {
    for (String in : node.getInputList()) {
      blockAll(tagsOf(in), reason);
    }
  }

  private List<Tag> tagsOf(String value) {
    return value.isEmpty() ? List.of() : tags.getOrDefault(value, List.of());
  }

  private void setTags(String value, List<Tag> t) {
    if (!t.isEmpty()) {
      tags.put(value, List.copyOf(t));
    }
  }

  private ModelStructure assemble() {
    Map<Integer, List<Integer>> byRoot = new LinkedHashMap<>();
    for (int s = 0; s < parent.size(); s++) {
      byRoot.computeIfAbsent(find(s), r -> new ArrayList<>()).add(s);
    }
    List<List<Member>> groupMembers = new ArrayList<>();
    List<Set<String>> groupBlockers = new ArrayList<>();
    List<Long> groupChannels = new ArrayList<>();
    List<List<ChannelGroup.ShapeEdit>> groupEdits = new ArrayList<>();
    for (Map.Entry<Integer, List<Integer>> e : byRoot.entrySet()) {
      List<Draft> drafts = new ArrayList<>();
      Set<String> why = new LinkedHashSet<>();
      Set<ChannelGroup.ShapeEdit> shapeEdits = new LinkedHashSet<>();
      for (int s : e.getValue()) {
        drafts.addAll(members.get(s));
        why.addAll(blockers.get(s));
        shapeEdits.addAll(edits.get(s));
      }
      groupEdits.add(List.copyOf(shapeEdits));
      drafts.sort(Comparator.comparing((Draft d) -> d.member().role() == Role.OUTPUT ? 0 : 1)
          .thenComparingLong(Draft::order));
      groupMembers.add(List.copyOf(new LinkedHashSet<>(drafts.stream().map(Draft::member).toList())));
      groupBlockers.add(why);
      groupChannels.add(counts.get(e.getKey()));
    }
    checkRanges(groupMembers, groupBlockers, groupChannels);
    Map<String, Integer> edited = new HashMap<>(); // node#input -> group
    for (int g = 0; g < groupEdits.size(); g++) {
      for (ChannelGroup.ShapeEdit e : groupEdits.get(g)) {
        Integer other = edited.putIfAbsent(e.node() + "#" + e.input() + "#" + e.position(), g);
        if (other != null && other != g) {
          String why = "element " + e.position() + " of input " + e.input() + " of node " + e.node()
              + " sizes the channels of two groups";
          groupBlockers.get(g).add(why);
          groupBlockers.get(other).add(why);
        }
      }
    }
    List<ChannelGroup> groups = new ArrayList<>();
    for (int g = 0; g < groupMembers.size(); g++) {
      List<Member> m = groupMembers.get(g);
      String name = String.join("+", m.stream().filter(x -> x.role() == Role.OUTPUT)
          .map(Member::tensor).distinct().toList());
      groups.add(new ChannelGroup(g, name, groupChannels.get(g), m, List.copyOf(groupBlockers.get(g)),
          groupEdits.get(g)));
    }
    return new ModelStructure(model, groups, shapes, sequence);
  }

  /**
   * A safety net: every member's channels must lie inside its tensor's axis, and the channels of
   * two groups (or two members of one) must not overlap on a tensor's axis.
   */
  private void checkRanges(List<List<Member>> groupMembers, List<Set<String>> groupBlockers,
      List<Long> channels) {
    Map<String, List<long[]>> ranges = new HashMap<>(); // tensor#axis -> {group, begin, end}
    for (int g = 0; g < groupMembers.size(); g++) {
      for (Member m : groupMembers.get(g)) {
        long[] dims = model.weight(m.tensor()).shape();
        long end = m.offset() + channels.get(g) * m.block();
        if (m.axis() >= dims.length || end > dims[m.axis()]) {
          groupBlockers.get(g).add("tensor " + m.tensor() + " " + Arrays.toString(dims)
              + " has no room for " + channels.get(g) + " channels of " + m.block() + " on axis "
              + m.axis() + " from " + m.offset());
          continue;
        }
        List<long[]> seen = ranges.computeIfAbsent(m.tensor() + "#" + m.axis(), k -> new ArrayList<>());
        for (long[] r : seen) {
          if (m.offset() < r[2] && r[1] < end) {
            String why = "tensor " + m.tensor() + " axis " + m.axis() + " holds overlapping channels";
            groupBlockers.get(g).add(why);
            groupBlockers.get((int) r[0]).add(why);
          }
        }
        seen.add(new long[] {g, m.offset(), end});
      }
    }
  }
}
