package dev.lopper.testing;

import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.nd4j.shade.protobuf.ByteString;

/**
 * Tiny ONNX models written with the ONNX protobuf classes, with weights drawn from a seeded
 * generator so that tests can recompute their outputs by hand.
 *
 * <ul>
 *   <li>{@link #mlp}: input {@code x [N, 4]} → Gemm(fc1.weight [5, 4], fc1.bias, transB) → Relu →
 *       Gemm(fc2.weight [3, 5], fc2.bias, transB) → {@code logits [N, 3]}.
 *   <li>{@link #cnn}: input {@code x [N, 1, 4, 4]} → Conv(conv.weight [2, 1, 3, 3], conv.bias,
 *       pads 1) → Relu → Flatten → Gemm(fc.weight [3, 32], fc.bias, transB) → {@code logits [N, 3]}.
 *   <li>{@link #deadBranch}: {@code logits = Gemm(x, live.weight) + 0 * Gemm(x, dead.weight)}, so
 *       zeroing {@code dead.weight} changes nothing.
 * </ul>
 */
public final class SmallOnnxModels {
  private SmallOnnxModels() {}

  /** Weights of a tiny model, by initializer name, as heap arrays (row-major). */
  public static float[] weights(String name, int count) {
    SplittableRandom random = new SplittableRandom(name.hashCode());
    float[] w = new float[count];
    for (int i = 0; i < count; i++) {
      w[i] = (float) random.nextDouble(-1, 1);
    }
    return w;
  }

  /** The MLP, written to {@code dir/mlp.onnx} and loaded. */
  public static OnnxModel mlp(Path dir) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("mlp");
    g.addInput(value("x", -1, 4));
    g.addOutput(value("logits", -1, 3));
    g.addInitializer(tensor("fc1.weight", 5, 4));
    g.addInitializer(tensor("fc1.bias", 5));
    g.addInitializer(tensor("fc2.weight", 3, 5));
    g.addInitializer(tensor("fc2.bias", 3));
    g.addNode(gemm("fc1", "x", "fc1.weight", "fc1.bias", "h"));
    g.addNode(node("Relu", "relu", "h", "hr"));
    g.addNode(gemm("fc2", "hr", "fc2.weight", "fc2.bias", "logits"));
    return write(dir.resolve("mlp.onnx"), g);
  }

  /** The CNN, written to {@code dir/cnn.onnx} and loaded. */
  public static OnnxModel cnn(Path dir) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("cnn");
    g.addInput(value("x", -1, 1, 4, 4));
    g.addOutput(value("logits", -1, 3));
    g.addInitializer(tensor("conv.weight", 2, 1, 3, 3));
    g.addInitializer(tensor("conv.bias", 2));
    g.addInitializer(tensor("fc.weight", 3, 32));
    g.addInitializer(tensor("fc.bias", 3));
    g.addNode(node("Conv", "conv", "x", "conv.weight", "conv.bias", "c")
        .addAttribute(ints("pads", 1, 1, 1, 1))
        .addAttribute(ints("kernel_shape", 3, 3)));
    g.addNode(node("Relu", "relu", "c", "cr"));
    g.addNode(node("Flatten", "flatten", "cr", "f"));
    g.addNode(gemm("fc", "f", "fc.weight", "fc.bias", "logits"));
    return write(dir.resolve("cnn.onnx"), g);
  }

  /** The model with a dead branch, written to {@code dir/dead.onnx} and loaded. */
  public static OnnxModel deadBranch(Path dir) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("dead");
    g.addInput(value("x", -1, 4));
    g.addOutput(value("logits", -1, 3));
    g.addInitializer(tensor("live.weight", 3, 4));
    g.addInitializer(tensor("live.bias", 3));
    g.addInitializer(tensor("dead.weight", 3, 4));
    g.addInitializer(tensor("dead.bias", 3));
    g.addInitializer(Onnx.TensorProto.newBuilder().setName("zero")
        .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).setRawData(floats(new float[] {0})));
    g.addNode(gemm("live", "x", "live.weight", "live.bias", "a"));
    g.addNode(gemm("dead", "x", "dead.weight", "dead.bias", "b"));
    g.addNode(node("Mul", "mute", "b", "zero", "b0"));
    g.addNode(node("Add", "sum", "a", "b0", "logits"));
    return write(dir.resolve("dead.onnx"), g);
  }

  /** A model whose only output is not a matrix: {@code y = Relu(x)}, shape [N, 1, 4, 4]. */
  public static OnnxModel imageOutput(Path dir) {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("image");
    g.addInput(value("x", -1, 1, 4, 4));
    g.addOutput(value("y", -1, 1, 4, 4));
    g.addNode(node("Relu", "relu", "x", "y"));
    return write(dir.resolve("image.onnx"), g);
  }

  private static OnnxModel write(Path file, Onnx.GraphProto.Builder graph) {
    Onnx.ModelProto model = Onnx.ModelProto.newBuilder()
        .setIrVersion(7)
        .setProducerName("lopper-tests")
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
        .setGraph(graph)
        .build();
    try {
      Files.write(file, model.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return OnnxModel.load(ModelSource.onnx(file.toString()), new Configuration());
  }

  private static Onnx.ValueInfoProto value(String name, long... dims) {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    for (long d : dims) {
      shape.addDim(d < 0
          ? Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("N")
          : Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return Onnx.ValueInfoProto.newBuilder().setName(name)
        .setType(Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
            .setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(shape)))
        .build();
  }

  private static Onnx.TensorProto tensor(String name, long... dims) {
    int count = 1;
    for (long d : dims) {
      count *= (int) d;
    }
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name)
        .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE)
        .setRawData(floats(weights(name, count)));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  private static ByteString floats(float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return ByteString.copyFrom(b.array());
  }

  private static Onnx.NodeProto.Builder node(String op, String name, String... inputsThenOutput) {
    Onnx.NodeProto.Builder n = Onnx.NodeProto.newBuilder().setOpType(op).setName(name);
    for (int i = 0; i < inputsThenOutput.length - 1; i++) {
      n.addInput(inputsThenOutput[i]);
    }
    return n.addOutput(inputsThenOutput[inputsThenOutput.length - 1]);
  }

  private static Onnx.NodeProto.Builder gemm(String name, String x, String w, String b, String y) {
    return node("Gemm", name, x, w, b, y).addAttribute(Onnx.AttributeProto.newBuilder()
        .setName("transB").setType(Onnx.AttributeProto.AttributeType.INT).setI(1));
  }

  private static Onnx.AttributeProto ints(String name, long... values) {
    Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
        .setType(Onnx.AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }
}
