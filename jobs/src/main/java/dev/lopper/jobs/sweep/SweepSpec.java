package dev.lopper.jobs.sweep;

import dev.lopper.model.ModelSource;
import dev.lopper.model.PrunableTensor;
import java.io.Serializable;
import java.util.List;

/**
 * What a sensitivity sweep evaluates: the dense baseline and every (tensor, sparsity) variant of
 * one model, pruned by one criterion. Small and serialisable: tasks receive this, never the model.
 *
 * @param model where the model comes from
 * @param checksum the model's checksum as the driver read it
 * @param tensors the tensors to sweep, in order
 * @param criterion the criterion's registry name
 * @param sparsities the sparsity grid, ascending, in (0, 1]
 * @param batchSize rows per ONNX Runtime call
 * @param threads ONNX Runtime intra-op threads per task
 * @param tensorsPerTask tensors evaluated by one task; 0 chooses so that every core gets work
 * @param classes the model's number of outputs (classes)
 */
public record SweepSpec(ModelSource model, String checksum, List<PrunableTensor> tensors, String criterion,
    double[] sparsities, int batchSize, int threads, int tensorsPerTask, int classes) implements Serializable {

  public SweepSpec {
    tensors = List.copyOf(tensors);
    sparsities = sparsities.clone();
  }

  @Override
  public double[] sparsities() {
    return sparsities.clone();
  }
}
