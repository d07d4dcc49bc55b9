package dev.lopper.mask;

import dev.lopper.io.RowSchema;
import dev.lopper.io.RowSchema.Optional;
import java.util.Arrays;
import java.util.Objects;

/**
 * One row of the mask summary ({@link MaskSet#summary()}): a mask's tensor, shape and counts.
 *
 * @param tensor the weight tensor's name
 * @param node the readable name of an anonymous tensor (its consumer node's name, see {@code
 *     dev.lopper.model.ReadableNames}), null for a tensor with a readable name of its own
 * @param shape its dimensions
 * @param parameters its elements
 * @param kept the elements the mask keeps
 * @param pruned the elements it prunes
 * @param density kept / parameters
 */
public record MaskSummaryRow(String tensor, @Optional String node, long[] shape, long parameters, long kept,
    long pruned, double density) {

  /**
   * The columns: {@code tensor} (STRING), {@code node} (STRING, only when some tensor has one),
   * {@code shape} (LONG_LIST), {@code parameters}, {@code kept}, {@code pruned} (LONG) and {@code
   * density} (DOUBLE).
   */
  public static final RowSchema<MaskSummaryRow> SCHEMA = RowSchema.of(MaskSummaryRow.class);

  /** The row of {@code mask}, whose tensor has readable name {@code node} (or null). */
  public static MaskSummaryRow of(Mask mask, String node) {
    return new MaskSummaryRow(mask.name(), node, mask.shape(), mask.size(), mask.keptCount(), mask.prunedCount(),
        mask.density());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MaskSummaryRow r && Objects.equals(tensor, r.tensor) && Objects.equals(node, r.node)
        && Arrays.equals(shape, r.shape)
        && parameters == r.parameters && kept == r.kept && pruned == r.pruned
        && Double.compare(density, r.density) == 0;
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(tensor) * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return "MaskSummaryRow[tensor=" + tensor + ", node=" + node + ", shape=" + Arrays.toString(shape)
        + ", parameters=" + parameters
        + ", kept=" + kept + ", pruned=" + pruned + ", density=" + density + "]";
  }
}
