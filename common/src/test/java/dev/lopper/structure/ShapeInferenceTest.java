package dev.lopper.structure;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import onnx.Onnx;
import org.junit.jupiter.api.Test;

/** Shapes of small graphs built here, against the output-size formulas worked by hand. */
class ShapeInferenceTest {

  private static Onnx.ValueInfoProto input(String name, long... dims) {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
    for (long d : dims) {
      shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder()
        .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
  }

  private static Onnx.TensorProto header(String name, long... dims) {
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name).setDataType(1);
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  private static Onnx.AttributeProto ints(String name, long... values) {
    Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
        .setType(Onnx.AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  private static Onnx.AttributeProto integer(String name, long value) {
    return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INT)
        .setI(value).build();
  }

  private static Onnx.NodeProto.Builder node(String op, String name, String... inputsThenOutput) {
    Onnx.NodeProto.Builder n = Onnx.NodeProto.newBuilder().setOpType(op).setName(name);
    for (int i = 0; i < inputsThenOutput.length - 1; i++) {
      n.addInput(inputsThenOutput[i]);
    }
    return n.addOutput(inputsThenOutput[inputsThenOutput.length - 1]);
  }

  @Test
  void stridedConvolutionsAndPoolsFollowTheOnnxFormulas() {
    Onnx.GraphProto graph = Onnx.GraphProto.newBuilder()
        .addInput(input("x", 3, 9, 9))
        .addInitializer(header("w", 6, 3, 3, 3))
        // (9 + 1 + 1 - 3) / 2 + 1 = 5
        .addNode(node("Conv", "conv", "x", "w", "c").addAttribute(ints("strides", 2, 2))
            .addAttribute(ints("pads", 1, 1, 1, 1)))
        // floor((5 - 2) / 2) + 1 = 2; with ceil_mode ceil(3 / 2) + 1 = 3
        .addNode(node("MaxPool", "floor", "c", "p").addAttribute(ints("kernel_shape", 2, 2))
            .addAttribute(ints("strides", 2, 2)))
        .addNode(node("MaxPool", "ceil", "c", "q").addAttribute(ints("kernel_shape", 2, 2))
            .addAttribute(ints("strides", 2, 2)).addAttribute(integer("ceil_mode", 1)))
        .addNode(node("GlobalAveragePool", "gap", "q", "g"))
        .addNode(node("Flatten", "flat", "q", "f"))
        .addNode(node("Unknown", "mystery", "f", "u"))
        .addNode(node("Relu", "relu", "u", "r"))
        .build();
    Map<String, long[]> shapes = ShapeInference.infer(graph, 4);
    assertArrayEquals(new long[] {4, 6, 5, 5}, shapes.get("c"));
    assertArrayEquals(new long[] {4, 6, 2, 2}, shapes.get("p"));
    assertArrayEquals(new long[] {4, 6, 3, 3}, shapes.get("q"));
    assertArrayEquals(new long[] {4, 6, 1, 1}, shapes.get("g"));
    assertArrayEquals(new long[] {4, 54}, shapes.get("f"));
    assertFalse(shapes.containsKey("u"));
    assertFalse(shapes.containsKey("r"));
  }

  @Test
  void refusesAConvolutionWhoseWeightDoesNotFitItsInput() {
    Onnx.GraphProto graph = Onnx.GraphProto.newBuilder()
        .addInput(input("x", 4, 5, 5))
        .addInitializer(header("w", 6, 3, 3, 3))
        .addNode(node("Conv", "conv", "x", "w", "c"))
        .build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShapeInference.infer(graph, 1));
    assertEquals("node conv (Conv): input has 4 channels, weight w [6, 3, 3, 3] with group 1 expects 3",
        e.getMessage());
  }

  /**
   * The sample LM's dynamic Reshapes (shape = Concat(Unsqueeze(Gather(Shape(x), 0)), …,
   * Unsqueeze(Constant 4), Unsqueeze(Constant 16))) get the shapes PyTorch's view gives, for the
   * batch and sequence length given; with the sequence left symbolic they get none.
   */
  @Test
  void evaluatesTheShapeSubgraphOfADynamicReshape() {
    Onnx.GraphProto lm = TransformerModels.tinyLm().graph().getGraph();
    Map<String, long[]> shapes = ShapeInference.infer(lm, 3, 5);
    assertArrayEquals(new long[] {3, 5, 64}, shapes.get("/Add_output_0"), "token + position embeddings");
    assertArrayEquals(new long[] {3, 5, 1}, shapes.get("/blocks.0/ln1/ReduceMean_output_0"));
    assertArrayEquals(new long[] {3, 5, 4, 16}, shapes.get("/blocks.0/attn/Reshape_output_0"));
    assertArrayEquals(new long[] {3, 4, 16, 5}, shapes.get("/blocks.0/attn/Transpose_2_output_0"));
    assertArrayEquals(new long[] {5, 5}, shapes.get("/blocks.0/attn/Trilu_output_0"));
    assertArrayEquals(new long[] {3, 4, 5, 5}, shapes.get("/blocks.0/attn/Add_output_0"));
    assertArrayEquals(new long[] {3, 5, 64}, shapes.get("/blocks.0/attn/Reshape_3_output_0"));
    assertArrayEquals(new long[] {3, 5, 256}, shapes.get("logits"));
    assertFalse(ShapeInference.infer(lm, 3).containsKey("/blocks.0/attn/Reshape_output_0"));
  }
}
