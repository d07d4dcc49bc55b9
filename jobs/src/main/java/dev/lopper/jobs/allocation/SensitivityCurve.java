package dev.lopper.jobs.allocation;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * How much the decision metric drops when one tensor (or one channel group) alone is pruned,
 * measured on the sweep's grid, and what pruning it saves.
 *
 * <p>The curve runs from (0, 0) through the grid points and is linear between them; it is undefined
 * above the largest swept sparsity. A drop is positive when the pruned model is worse than the dense
 * one and may be negative when pruning helped.
 *
 * <p>The {@code cost} is what the policies count a target in: pruning the curve's item at
 * sparsity s saves {@code s × cost}. It is the tensor's parameters by default; its multiply-accumulates
 * when allocating FLOPs; for a channel group, the parameters or multiply-accumulates the model loses
 * per channel, times the channels (exact for one group alone; see {@code TargetCalibration} for groups
 * that share tensors). {@code units} says in what steps the sparsity can move: a group of C channels
 * can only be pruned at multiples of 1/C, so policies choose among those; 0 means in steps too fine
 * to matter (single elements); {@link #GRID_ONLY} that the item is either dense or at one of the grid's
 * sparsities (an N:M pattern: dense or N:M).
 *
 * @param tensor the tensor's name, or the channel group's
 * @param node the readable name of a tensor whose name is anonymous (its node's, see {@code
 *     dev.lopper.model.ReadableNames}), null for other tensors and for channel groups
 * @param parameters the tensor's number of elements (of all member tensors, for a group)
 * @param sparsities the grid, strictly increasing, each in (0, 1]
 * @param drops the measured drop at each grid point (finite)
 * @param cost what pruning all of it saves, in the allocation's unit, positive
 * @param units the number of indivisible parts sparsity counts (a group's channels), 0, or {@link #GRID_ONLY}
 */
public record SensitivityCurve(String tensor, String node, long parameters, double[] sparsities, double[] drops,
    double cost, long units) {

  /** {@link #units()} of an item that can only be dense or at a grid point (an N:M pattern). */
  public static final long GRID_ONLY = -1;

  /** A tensor's curve, counted in parameters, at any sparsity; {@code node} its readable name or null. */
  public SensitivityCurve(String tensor, String node, long parameters, double[] sparsities, double[] drops) {
    this(tensor, node, parameters, sparsities, drops, parameters, 0);
  }

  /** The curve of a tensor without a readable name beside its own, counted in parameters, at any sparsity. */
  public SensitivityCurve(String tensor, long parameters, double[] sparsities, double[] drops) {
    this(tensor, null, parameters, sparsities, drops);
  }

  public SensitivityCurve {
    Objects.requireNonNull(tensor, "tensor");
    if (parameters <= 0) {
      throw new IllegalArgumentException("tensor " + tensor + ": parameters must be positive, found " + parameters);
    }
    if (sparsities.length == 0 || sparsities.length != drops.length) {
      throw new IllegalArgumentException("tensor " + tensor + ": needs one drop per sparsity and at least one "
          + "point, found " + sparsities.length + " sparsities and " + drops.length + " drops");
    }
    sparsities = sparsities.clone();
    drops = drops.clone();
    double previous = 0;
    for (int i = 0; i < sparsities.length; i++) {
      if (!(sparsities[i] > previous) || sparsities[i] > 1) {
        throw new IllegalArgumentException("tensor " + tensor + ": sparsities must increase strictly within "
            + "(0, 1], found " + Arrays.toString(sparsities));
      }
      if (!Double.isFinite(drops[i])) {
        throw new IllegalArgumentException("tensor " + tensor + ": drop at sparsity " + sparsities[i]
            + " is " + drops[i]);
      }
      previous = sparsities[i];
    }
    if (!(cost > 0) || !Double.isFinite(cost)) {
      throw new IllegalArgumentException("tensor " + tensor + ": cost must be positive and finite, found " + cost);
    }
    if (units < 0 && units != GRID_ONLY) {
      throw new IllegalArgumentException("tensor " + tensor + ": units must be >= 0 or GRID_ONLY, found " + units);
    }
  }

  /** Whether the item can only be dense or at a grid point. */
  public boolean gridOnly() {
    return units == GRID_ONLY;
  }

  /** This curve for an item that can only be dense or at a grid point ({@link #GRID_ONLY}). */
  public SensitivityCurve atGridOnly() {
    return new SensitivityCurve(tensor, node, parameters, sparsities, drops, cost, GRID_ONLY);
  }

  /** This curve with what pruning all of it saves counted as {@code cost}. */
  public SensitivityCurve withCost(double cost) {
    return new SensitivityCurve(tensor, node, parameters, sparsities, drops, cost, units);
  }

  /** The largest swept sparsity: the curve's end. */
  public double maxSparsity() {
    return sparsities[sparsities.length - 1];
  }

  /**
   * The predicted drop at sparsity {@code s}, interpolating linearly between (0, 0) and the grid.
   *
   * @throws IllegalArgumentException when {@code s} is negative or above {@link #maxSparsity()}
   */
  public double dropAt(double s) {
    if (!(s >= 0) || s > maxSparsity() + 1e-12) {
      throw new IllegalArgumentException("tensor " + tensor + ": sparsity " + s + " is outside the swept range [0, "
          + maxSparsity() + "]");
    }
    return PiecewiseLinear.at(sparsities, drops, s);
  }

  @Override
  public double[] sparsities() {
    return sparsities.clone();
  }

  @Override
  public double[] drops() {
    return drops.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SensitivityCurve c && tensor.equals(c.tensor) && Objects.equals(node, c.node)
        && parameters == c.parameters
        && Arrays.equals(sparsities, c.sparsities) && Arrays.equals(drops, c.drops)
        && Double.compare(cost, c.cost) == 0 && units == c.units;
  }

  @Override
  public int hashCode() {
    return Objects.hash(tensor, node, parameters, Arrays.hashCode(sparsities), Arrays.hashCode(drops), cost, units);
  }

  @Override
  public String toString() {
    return "SensitivityCurve[" + tensor + (node == null ? "" : " (" + node + ")") + ", " + parameters
        + " parameters, cost " + cost
        + (units > 0 ? ", " + units + " units" : "") + ", sparsities " + Arrays.toString(sparsities)
        + ", drops " + Arrays.toString(drops) + "]";
  }

  /** Checks that there is at least one curve and that tensor names are distinct. */
  static void checkCurves(List<SensitivityCurve> curves) {
    if (curves.isEmpty()) {
      throw new IllegalArgumentException("no sensitivity curves to allocate from");
    }
    Set<String> seen = new HashSet<>();
    for (SensitivityCurve curve : curves) {
      if (!seen.add(curve.tensor())) {
        throw new IllegalArgumentException("two sensitivity curves for tensor " + curve.tensor());
      }
    }
  }
}
