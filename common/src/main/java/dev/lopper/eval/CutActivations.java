package dev.lopper.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.util.List;
import java.util.Map;

/**
 * The cut values of one batch for one {@link PreparedCut}: what every variant's suffix reads,
 * computed once by the dense model. Values the cut's prefix computed live in ONNX Runtime's native
 * buffers until {@link #close()} (values of a dense pass, in direct buffers their holder keeps); a
 * graph input among the cut values is the batch's own feature buffer, read in place, so close the
 * activations before the batch.
 *
 * <p>Memory: {@link #bytes()}, that is rows × (elements per row of every computed cut value) ×
 * element size; for a cut after a 1024-wide layer, 4 KiB a row.
 */
public final class CutActivations implements AutoCloseable {
  private final PreparedCut cut;
  private final int rows;
  private final Map<String, OnnxTensor> values;
  private final long bytes;
  private final OrtSession.Result result;
  private final List<OnnxTensor> owned;
  private volatile boolean closed;

  CutActivations(PreparedCut cut, int rows, Map<String, OnnxTensor> values, long bytes,
      OrtSession.Result result, List<OnnxTensor> owned) {
    this.cut = cut;
    this.rows = rows;
    this.values = Map.copyOf(values);
    this.bytes = bytes;
    this.result = result;
    this.owned = List.copyOf(owned);
  }

  /** The cut these are values of. */
  public PreparedCut cut() {
    return cut;
  }

  /** Number of rows (the batch's). */
  public int rows() {
    return rows;
  }

  /** Bytes the computed cut values hold (the batch's features not counted). */
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
      owned.forEach(OnnxTensor::close);
    }
  }
}
