package dev.lopper.model;

import dev.lopper.data.BatchInput;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import onnx.Onnx;

/**
 * What a model's graph inputs take: each input's element type and dimensions and, for an integer
 * input that indexes an embedding table (the indices of a {@code Gather} whose data is an
 * initializer, directly or through {@code Cast}, {@code Reshape}, {@code Unsqueeze} or {@code
 * Identity}), the table's number of rows — the token ids it accepts are {@code [0, rows)}.
 *
 * @param inputs the graph inputs, in order
 */
public record ModelInputs(List<Input> inputs) {

  /**
   * One graph input.
   *
   * @param name the input's name
   * @param elementType ONNX's element type number ({@code Onnx.TensorProto.DataType})
   * @param dims its dimensions, -1 where symbolic
   * @param vocabulary rows of the embedding table the input indexes, or -1 when it indexes none
   */
  public record Input(String name, int elementType, long[] dims, long vocabulary) {
    public Input {
      dims = dims.clone();
    }

    @Override
    public long[] dims() {
      return dims.clone();
    }

    /** Whether the input takes floats. */
    public boolean isFloat() {
      return elementType == Onnx.TensorProto.DataType.FLOAT_VALUE;
    }

    /** The batch element type that feeds it, or null when Lopper cannot feed its type. */
    public BatchInput.ElementType batchType() {
      if (elementType == Onnx.TensorProto.DataType.FLOAT_VALUE) {
        return BatchInput.ElementType.FLOAT;
      } else if (elementType == Onnx.TensorProto.DataType.INT64_VALUE) {
        return BatchInput.ElementType.INT64;
      } else if (elementType == Onnx.TensorProto.DataType.INT32_VALUE) {
        return BatchInput.ElementType.INT32;
      }
      return null;
    }

    /** The element type's name in lower case ({@code float}, {@code int64}, ...). */
    public String typeName() {
      Onnx.TensorProto.DataType t = Onnx.TensorProto.DataType.forNumber(elementType);
      return t == null ? "type " + elementType : t.name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
      return name + " " + typeName() + Arrays.toString(dims);
    }
  }

  public ModelInputs {
    inputs = List.copyOf(inputs);
  }

  /** The inputs of {@code model}'s graph. */
  public static ModelInputs of(OnnxModel model) {
    Onnx.GraphProto graph = model.graph().getGraph();
    Map<String, Long> tableRows = new HashMap<>();
    java.util.Set<String> initializers = new java.util.HashSet<>();
    for (Onnx.TensorProto t : graph.getInitializerList()) {
      initializers.add(t.getName());
      if (t.getDimsCount() > 0) {
        tableRows.put(t.getName(), t.getDims(0));
      }
    }
    Map<String, List<Onnx.NodeProto>> consumers = new HashMap<>();
    for (Onnx.NodeProto n : graph.getNodeList()) {
      for (String in : n.getInputList()) {
        consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
      }
    }
    List<Input> out = new ArrayList<>();
    for (Onnx.ValueInfoProto v : graph.getInputList()) {
      if (initializers.contains(v.getName())) {
        continue; // an initializer listed as an input (old exports) is not fed
      }
      Onnx.TypeProto.Tensor type = v.getType().getTensorType();
      long[] dims = new long[type.getShape().getDimCount()];
      for (int i = 0; i < dims.length; i++) {
        Onnx.TensorShapeProto.Dimension d = type.getShape().getDim(i);
        dims[i] = d.hasDimValue() ? d.getDimValue() : -1;
      }
      out.add(new Input(v.getName(), type.getElemType(), dims, vocabulary(v.getName(), consumers, tableRows)));
    }
    return new ModelInputs(out);
  }

  /** Rows of the table {@code value} indexes through Gather, following shape-only nodes; -1 if none. */
  private static long vocabulary(String value, Map<String, List<Onnx.NodeProto>> consumers,
      Map<String, Long> tableRows) {
    for (Onnx.NodeProto n : consumers.getOrDefault(value, List.of())) {
      switch (n.getOpType()) {
        case "Gather" -> {
          if (n.getInputCount() > 1 && n.getInput(1).equals(value) && tableRows.containsKey(n.getInput(0))) {
            return tableRows.get(n.getInput(0));
          }
        }
        case "Cast", "Reshape", "Unsqueeze", "Identity" -> {
          if (n.getInput(0).equals(value)) {
            long rows = vocabulary(n.getOutput(0), consumers, tableRows);
            if (rows > 0) {
              return rows;
            }
          }
        }
        default -> { }
      }
    }
    return -1;
  }

  /** The input named {@code name}, or null. */
  public Input get(String name) {
    return inputs.stream().filter(i -> i.name().equals(name)).findFirst().orElse(null);
  }

  /** Whether the model takes token sequences: some input is of an integer type. */
  public boolean sequences() {
    return inputs.stream().anyMatch(i -> !i.isFloat());
  }

  /** Names of the inputs, in order. */
  public List<String> names() {
    return inputs.stream().map(Input::name).toList();
  }
}
