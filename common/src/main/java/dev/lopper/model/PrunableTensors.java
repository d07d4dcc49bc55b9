package dev.lopper.model;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import onnx.Onnx;

/**
 * Finds a model's prunable tensors: float initializers of rank 2 or more that feed the weight input
 * of a Conv (input 1), Gemm (input 0 or 1) or MatMul (either input) node, directly or through a
 * chain of Transpose, Cast, Reshape and Identity nodes — what {@code torch.onnx.export} makes of an
 * {@code nn.Linear} ({@code MatMul(x, Transpose(W))} with W stored {@code [out, in]}). Biases and
 * normalisation parameters are rank 1 and never prunable here; embedding tables feed Gather, not
 * these ops.
 *
 * <p>Include and exclude lists are globs over tensor names ({@code *} any characters, {@code ?} one
 * character); an include glob that matches no prunable tensor is bad input, since it is almost
 * always a typo.
 */
public final class PrunableTensors {

  private static final Set<String> WEIGHT_OPS = Set.of("Conv", "Gemm", "MatMul");

  /** Ops between a weight and its consumer that keep it a weight: they only lay its elements out. */
  private static final Set<String> PASS_THROUGH = Set.of("Transpose", "Cast", "Reshape", "Identity");

  private PrunableTensors() {}

  /** Every prunable tensor, in graph order of first use. */
  public static List<PrunableTensor> find(OnnxModel model) {
    return find(model, List.of("*"), List.of());
  }

  /**
   * The prunable tensors whose names match one of {@code include} and none of {@code exclude}, in
   * graph order of first use.
   */
  public static List<PrunableTensor> find(OnnxModel model, List<String> include, List<String> exclude) {
    Map<String, Onnx.NodeProto> producers = new HashMap<>();
    for (Onnx.NodeProto node : model.nodes()) {
      node.getOutputList().forEach(out -> producers.put(out, node));
    }
    Map<String, PrunableTensor> found = new LinkedHashMap<>();
    for (Onnx.NodeProto node : model.nodes()) {
      if (!WEIGHT_OPS.contains(node.getOpType())) {
        continue;
      }
      for (int i = 0; i < node.getInputCount(); i++) {
        if (!isWeightInput(node.getOpType(), i)) {
          continue;
        }
        // Back from the consumer's input through layout-only nodes to an initializer, if any.
        String value = node.getInput(i);
        boolean transposed = transposed(node, i);
        Onnx.NodeProto producer = producers.get(value);
        while (!model.weights().containsKey(value) && producer != null
            && PASS_THROUGH.contains(producer.getOpType()) && producer.getInputCount() > 0) {
          transposed ^= swapsLastTwoAxes(producer);
          value = producer.getInput(0);
          producer = producers.get(value);
        }
        WeightTensor w = model.weights().get(value);
        if (w == null || w.shape().length < 2 || found.containsKey(w.name())) {
          continue;
        }
        found.put(w.name(), new PrunableTensor(w.name(), node.getOpType(), OnnxModel.nodeName(node),
            w.shape(), w.size(), i, transposed));
      }
    }
    List<Pattern> includes = compile(include);
    List<Pattern> excludes = compile(exclude);
    for (int i = 0; i < include.size(); i++) {
      Pattern p = includes.get(i);
      if (found.keySet().stream().noneMatch(n -> p.matcher(n).matches())) {
        throw new InvalidInputException(model.source().onnxPath() + ": include pattern '" + include.get(i)
            + "' matches no prunable tensor; prunable tensors are " + abbreviate(found.keySet()));
      }
    }
    List<PrunableTensor> selected = new ArrayList<>();
    for (PrunableTensor t : found.values()) {
      boolean in = includes.stream().anyMatch(p -> p.matcher(t.name()).matches());
      boolean out = excludes.stream().anyMatch(p -> p.matcher(t.name()).matches());
      if (in && !out) {
        selected.add(t);
      }
    }
    if (selected.isEmpty()) {
      throw new InvalidInputException(model.source().onnxPath() + ": no prunable tensor left after include "
          + include + " and exclude " + exclude);
    }
    return List.copyOf(selected);
  }

  /** The listing people read: name, consuming op and node, shape, parameter count; one row per tensor. */
  public static Table listing(List<PrunableTensor> tensors) {
    return PrunableTensorRow.SCHEMA.table(tensors.stream().map(PrunableTensorRow::of).toList());
  }

  private static boolean transposed(Onnx.NodeProto node, int index) {
    if (!node.getOpType().equals("Gemm")) {
      return false;
    }
    String attribute = index == 0 ? "transA" : "transB";
    return node.getAttributeList().stream().anyMatch(a -> a.getName().equals(attribute) && a.getI() != 0);
  }

  /**
   * Whether {@code node} is a Transpose of a matrix: no {@code perm} (reverses the axes) or {@code
   * perm = [1, 0]}. Other layout changes keep the weight's orientation as far as its consumer's
   * rows and columns are concerned.
   */
  private static boolean swapsLastTwoAxes(Onnx.NodeProto node) {
    if (!node.getOpType().equals("Transpose")) {
      return false;
    }
    for (Onnx.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals("perm")) {
        return a.getIntsCount() == 2 && a.getInts(0) == 1 && a.getInts(1) == 0;
      }
    }
    return true;
  }

  private static boolean isWeightInput(String opType, int index) {
    return switch (opType) {
      case "Conv" -> index == 1;
      case "Gemm" -> index == 0 || index == 1;
      case "MatMul" -> index == 0 || index == 1;
      default -> false;
    };
  }

  /** Whether tensor name {@code name} matches {@code glob} ({@code *} any characters, {@code ?} one). */
  public static boolean matches(String glob, String name) {
    return glob(glob).matcher(name).matches();
  }

  /** A glob as a regular expression: {@code *} any run of characters, {@code ?} one character. */
  static Pattern glob(String glob) {
    StringBuilder regex = new StringBuilder();
    for (char c : glob.toCharArray()) {
      switch (c) {
        case '*' -> regex.append(".*");
        case '?' -> regex.append('.');
        default -> regex.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(regex.toString());
  }

  private static List<Pattern> compile(List<String> globs) {
    return globs.stream().map(PrunableTensors::glob).toList();
  }

  private static String abbreviate(java.util.Collection<String> names) {
    List<String> list = new ArrayList<>(names);
    if (list.size() <= 12) {
      return list.toString();
    }
    return list.subList(0, 12) + " and " + (list.size() - 12) + " more";
  }
}
