package dev.lopper.jobs.allocation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Baseline policy {@code global-magnitude}: the per-tensor sparsities that one magnitude threshold
 * over all prunable tensors produces.
 *
 * <p>The fractions come from the global-magnitude criterion at the target (computed by the caller
 * from the weights, not from the curves); this policy only attaches the curves' predicted drops. A
 * tensor pruned above its largest swept sparsity gets a NaN predicted drop: it was not measured
 * there. The cap {@link AllocationSettings#maxSparsity()} does not apply to this baseline.
 */
public final class GlobalMagnitudeAllocation implements AllocationPolicy {

  private final Map<String, Double> fractions;

  /** @param fractions tensor name to the fraction of its elements the global threshold prunes */
  public GlobalMagnitudeAllocation(Map<String, Double> fractions) {
    this.fractions = Map.copyOf(fractions);
  }

  @Override
  public String name() {
    return "global-magnitude";
  }

  @Override
  public Allocation allocate(List<SensitivityCurve> curves, AllocationSettings settings) {
    SensitivityCurve.checkCurves(curves);
    List<TensorAllocation> tensors = new ArrayList<>();
    for (SensitivityCurve curve : curves) {
      Double fraction = fractions.get(curve.tensor());
      if (fraction == null || !(fraction >= 0 && fraction <= 1)) {
        throw new IllegalArgumentException("global-magnitude: no fraction in [0, 1] for tensor " + curve.tensor()
            + ", found " + fraction);
      }
      tensors.add(TensorAllocation.of(curve, fraction));
    }
    return new Allocation(name(), tensors, Double.NaN);
  }
}
