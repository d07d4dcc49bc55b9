package dev.lopper.jobs.pipeline;

import java.util.List;

/**
 * What a {@link PruneMethod} emitted: the pruned model's file, which the verification step loads
 * as users will, and what the gate and the results need to know of it.
 *
 * @param prunedOnnx the written model, {@code model/pruned.onnx} in the run directory
 * @param predictedDrop the allocation's predicted drop of the decision metric
 * @param results the method's sections of the manifest's results ({@link
 *     dev.lopper.jobs.output.RunResults})
 * @param minSpeedup the speed-up the gate must also see ({@code allocation.min-speedup}), or null
 * @param measuredSpeedup the emitted model's measured speed-up over the dense one, or null
 */
public record Emission(String prunedOnnx, double predictedDrop, List<Record> results, Double minSpeedup,
    Double measuredSpeedup) {

  public Emission {
    results = List.copyOf(results);
  }
}
