package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.Table;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Runs an ONNX file on ONNX Runtime directly (not through Lopper's evaluator), so that a shrunk
 * model file and a masked model file are compared by the same independent path.
 */
final class ModelOutputs {
  private ModelOutputs() {}

  /** The first output of the model in {@code onnxFile} for {@code input} of {@code shape}. */
  static float[] run(String onnxFile, float[] input, long[] shape) throws OrtException {
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      return run(onnxFile, options, input, shape);
    }
  }

  private static float[] run(String onnxFile, OrtSession.SessionOptions options, float[] input,
      long[] shape) throws OrtException {
    try (OrtSession session = OrtRuntime.environment().createSession(onnxFile, options)) {
      FloatBuffer buffer = WeightTensor.allocate(input.length);
      buffer.put(input).flip();
      String name = session.getInputNames().iterator().next();
      try (OnnxTensor x = OnnxTensor.createTensor(OrtRuntime.environment(), buffer, shape);
          OrtSession.Result result = session.run(Map.of(name, x))) {
        OnnxTensor out = (OnnxTensor) result.get(0);
        FloatBuffer values = out.getFloatBuffer();
        float[] array = new float[values.remaining()];
        values.get(array);
        return array;
      }
    }
  }

  /** The 360 validation rows' features, row after row. */
  static float[] validationFeatures() {
    Table table = ValidationSet.table();
    int column = table.indexOf("features");
    List<List<Object>> rows = table.rows();
    float[] out = new float[rows.size() * 64];
    for (int r = 0; r < rows.size(); r++) {
      System.arraycopy((float[]) rows.get(r).get(column), 0, out, r * 64, 64);
    }
    return out;
  }

  /** Reproducible values in [-1, 1). */
  static float[] random(int count, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    float[] out = new float[count];
    for (int i = 0; i < count; i++) {
      out[i] = (float) random.nextDouble(-1, 1);
    }
    return out;
  }

  /** The largest absolute difference of two equally long arrays. */
  static double maxDifference(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new AssertionError("lengths " + a.length + " and " + b.length);
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs((double) a[i] - b[i]));
    }
    return max;
  }
}
