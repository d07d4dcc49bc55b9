package dev.lopper.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.util.Map;

/**
 * The cut values of one batch for one {@link Evaluator.Cut}: what every variant's suffix reads,
 * computed once by the dense prefix. Values the prefix computed live in ONNX Runtime's native
 * buffers until {@link #close()}; a graph input among the cut values is the batch's own feature
 * buffer, read in place, so close the activations before the batch.
 *
 * <p>Memory: {@link #bytes()}, that is rows × (elements per row of every computed cut value) ×
 * element size; for a cut after a 1024-wide layer, 4 KiB a row.
 */
public final class CutActivations implements AutoCloseable {
  private final Evaluator.Cut cut;
  private final int rows;
  private final Map<String, OnnxTensor> values;
  private final OrtSession.Result result;
  private final OnnxTensor features;
  private final long bytes;
  private volatile boolean closed;

  CutActivations(Evaluator.Cut cut, int rows, Map<String, OnnxTensor> values,
      OrtSession.Result result, OnnxTensor features) {
    this.cut = cut;
    this.rows = rows;
    this.values = Map.copyOf(values);
    this.result = result;
    this.features = features;
    long sum = 0;
    for (OnnxTensor t : this.values.values()) {
      if (t != features) {
        sum += t.getInfo().getNumElements() * elementBytes(t.getInfo());
      }
    }
    this.bytes = sum;
  }

  /** The cut these are values of. */
  public Evaluator.Cut cut() {
    return cut;
  }

  /** Number of rows (the batch's). */
  public int rows() {
    return rows;
  }

  /** Bytes of native memory the computed cut values hold (the batch's features not counted). */
  public long bytes() {
    return bytes;
  }

  /** The cut values by name, as fed to suffix sessions. */
  Map<String, OnnxTensor> values() {
    if (closed) {
      throw new IllegalStateException("activations of " + cut.graph() + " are closed");
    }
    return values;
  }

  /** Frees the computed values. Idempotent. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      if (result != null) {
        result.close();
      }
      if (features != null) {
        features.close();
      }
    }
  }

  private static long elementBytes(TensorInfo info) {
    return switch (info.type) {
      case DOUBLE, INT64 -> 8;
      case FLOAT, INT32 -> 4;
      case FLOAT16, BFLOAT16, INT16 -> 2;
      default -> 1;
    };
  }
}
