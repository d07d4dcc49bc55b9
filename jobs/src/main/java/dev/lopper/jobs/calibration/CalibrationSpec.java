package dev.lopper.jobs.calibration;

import dev.lopper.model.ModelSource;
import dev.lopper.model.PrunableTensor;
import java.io.Serializable;
import java.util.List;

/**
 * One calibration pass: which model, which tensors' consumer inputs, over which rows. Small and
 * serialisable: tasks receive this, never the model.
 *
 * @param model where the model comes from
 * @param checksum the model's checksum as the driver read it
 * @param tensors the prunable tensors whose consumer inputs are gathered
 * @param gram whether the Gram matrices are gathered (SparseGPT) or only the channel sums (Wanda, OWL)
 * @param rows the calibration rows: the first {@code rows} rows of the data in file order
 * @param chunkRows rows per chunk; chunks are fixed by global row index, the unit of the merge order
 * @param tasks how many tasks share the chunks (contiguous ranges of chunks each)
 * @param threads intra-op threads per task, for ONNX Runtime and ND4J
 */
public record CalibrationSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, boolean gram, long rows,
    int chunkRows, int tasks, int threads) implements Serializable {

  public CalibrationSpec {
    tensors = List.copyOf(tensors);
    if (rows < 1 || chunkRows < 1 || tasks < 1 || threads < 1) {
      throw new IllegalArgumentException("rows " + rows + ", chunk rows " + chunkRows + ", tasks " + tasks
          + " and threads " + threads + " must be positive");
    }
  }

  /** Number of chunks: the rows in blocks of {@code chunkRows}, the last one possibly shorter. */
  public int chunks() {
    return Math.toIntExact((rows + chunkRows - 1) / chunkRows);
  }

  /** The task that calibrates {@code chunk}: contiguous ranges of chunks, in order. */
  public int taskOf(int chunk) {
    return (int) ((long) chunk * tasks / chunks());
  }
}
