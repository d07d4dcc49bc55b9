package dev.lopper.jobs.allocation;

import dev.lopper.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/** Baseline policy {@code uniform}: every tensor at the target sparsity. */
public final class UniformAllocation implements AllocationPolicy {

  @Override
  public String name() {
    return "uniform";
  }

  @Override
  public Allocation allocate(List<SensitivityCurve> curves, AllocationSettings settings) {
    SensitivityCurve.checkCurves(curves);
    double target = settings.target();
    List<TensorAllocation> tensors = new ArrayList<>();
    for (SensitivityCurve curve : curves) {
      if (target > Math.min(settings.maxSparsity(), curve.maxSparsity())) {
        throw new InvalidInputException("allocation.target: uniform sparsity " + target + " is above the "
            + "largest allowed sparsity " + Math.min(settings.maxSparsity(), curve.maxSparsity()) + " of tensor "
            + curve.tensor() + " (allocation.max-sparsity or the largest swept sparsity)");
      }
      tensors.add(TensorAllocation.of(curve, target));
    }
    return new Allocation(name(), tensors, Double.NaN);
  }
}
