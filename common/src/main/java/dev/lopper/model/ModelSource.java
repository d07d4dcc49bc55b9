package dev.lopper.model;

import dev.lopper.io.HadoopFiles;
import java.io.Serializable;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;

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

  /**
   * This source with both paths fully qualified ({@link HadoopFiles#qualified}): a relative local path
   * becomes an absolute {@code file:} path resolved against this JVM's working directory, so that the
   * source means the same files when it is sent to another JVM (a Spark executor runs in a directory of
   * its own).
   */
  public ModelSource qualified(Configuration conf) {
    return new ModelSource(HadoopFiles.qualified(onnxPath, conf),
        weightsPath == null ? null : HadoopFiles.qualified(weightsPath, conf));
  }
}
