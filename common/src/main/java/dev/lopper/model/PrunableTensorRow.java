package dev.lopper.model;

import dev.lopper.io.RowSchema;
import java.util.Arrays;
import java.util.Objects;

/**
 * One row of the listing of prunable tensors ({@link PrunableTensors#listing}).
 *
 * @param tensor the initializer's name
 * @param op the consuming node's op type
 * @param node the consuming node's name
 * @param shape the tensor's dimensions
 * @param parameters its number of elements
 */
public record PrunableTensorRow(String tensor, String op, String node, long[] shape, long parameters) {

  /**
   * The columns: {@code tensor}, {@code op}, {@code node} (STRING), {@code shape} (LONG_LIST) and
   * {@code parameters} (LONG).
   */
  public static final RowSchema<PrunableTensorRow> SCHEMA = RowSchema.of(PrunableTensorRow.class);

  /** The row of {@code t}. */
  public static PrunableTensorRow of(PrunableTensor t) {
    return new PrunableTensorRow(t.name(), t.opType(), t.nodeName(), t.shape(), t.parameters());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PrunableTensorRow r && Objects.equals(tensor, r.tensor) && Objects.equals(op, r.op)
        && Objects.equals(node, r.node) && Arrays.equals(shape, r.shape) && parameters == r.parameters;
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(tensor) * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return "PrunableTensorRow[tensor=" + tensor + ", op=" + op + ", node=" + node + ", shape="
        + Arrays.toString(shape) + ", parameters=" + parameters + "]";
  }
}
