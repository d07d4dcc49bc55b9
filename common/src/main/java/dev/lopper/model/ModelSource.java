package dev.lopper.model;

import java.io.Serializable;
import java.util.Objects;

/**
 * Where a model comes from: an ONNX file and, optionally, a safetensors file whose tensors replace
 * the ONNX initializers of the same name. Both are Hadoop paths ({@code file://}, {@code hdfs://},
 * {@code s3a://} or plain local paths).
 *
 * @param onnxPath the ONNX model
 * @param weightsPath the safetensors weights, or null
 */
public record ModelSource(String onnxPath, String weightsPath) implements Serializable {

  public ModelSource {
    Objects.requireNonNull(onnxPath, "onnxPath");
    if (weightsPath != null && weightsPath.isBlank()) {
      weightsPath = null;
    }
  }

  /** A model whose weights are all in the ONNX file (or its external-data files). */
  public static ModelSource onnx(String onnxPath) {
    return new ModelSource(onnxPath, null);
  }
}
