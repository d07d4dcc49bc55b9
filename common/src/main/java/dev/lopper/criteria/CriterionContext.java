package dev.lopper.criteria;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.structure.BiasCompensation;
import dev.lopper.structure.ChannelGroup;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a {@link PruningCriterion} may know beyond the weights themselves. Immutable, built with
 * {@link #builder()}; every field is optional, so that a new kind of information (activation
 * statistics for Wanda or OBS, say) becomes a new {@code opt*} builder method and callers that do
 * not supply it need no change.
 *
 * <p>It holds, per tensor name, the {@link Consumer}: the op that reads the weight, which says which
 * axis holds output channels or neurons; and the model's {@link ChannelGroup}s, which structured
 * criteria ({@link ChannelCriterion}) need to prune whole channels across every tensor that shares
 * them. Magnitude criteria ignore both. Activation-aware criteria (Wanda, SparseGPT) read each
 * tensor's calibration {@link InputStatistics}; every criterion honours the {@link SparsityPattern}
 * (unstructured unless given).
 *
 * <pre>{@code
 * CriterionContext context = CriterionContext.builder()
 *     .optConsumer("conv1.weight", "Conv", 1, false)
 *     .optConsumer("fc.weight", "Gemm", 1, true)
 *     .optChannelGroups(ModelStructure.analyse(model).groups())
 *     .build();
 * }</pre>
 */
public final class CriterionContext {

  private static final CriterionContext EMPTY = new Builder().build();

  /**
   * The op that consumes a weight tensor and how. Output channels or neurons are on axis 0 for
   * {@code Conv} (weight {@code [out, in/groups, k...]}) and for {@code Gemm} with {@code transB =
   * 1} at input 1 ({@code [out, in]}, PyTorch's Linear); on the last axis for {@code Gemm} without
   * transpose and for {@code MatMul} at input 1 ({@code X·W}, {@code W} is {@code [in, out]}).
   *
   * @param opType the ONNX op type, e.g. {@code Conv}, {@code Gemm}, {@code MatMul}
   * @param inputIndex which input of the op the weight is (1 for {@code X·W}, 0 for {@code W·X})
   * @param transposed the op transposes the weight before use (Gemm's {@code transA}/{@code
   *     transB} for the weight's input, or a Transpose between weight and op)
   */
  public record Consumer(String opType, int inputIndex, boolean transposed) {
    public Consumer {
      Objects.requireNonNull(opType, "opType");
      if (inputIndex < 0) {
        throw new IllegalArgumentException("input index " + inputIndex + " is negative");
      }
    }
  }

  private final Map<String, Consumer> consumers;
  private final List<ChannelGroup> channelGroups;
  private final Map<String, InputStatistics> statistics;
  private final SparsityPattern pattern;
  private final BiasCompensation compensation;

  private CriterionContext(Builder builder) {
    this.compensation = builder.compensation;
    this.consumers = Collections.unmodifiableMap(new LinkedHashMap<>(builder.consumers));
    this.channelGroups = List.copyOf(builder.channelGroups);
    this.statistics = Collections.unmodifiableMap(new LinkedHashMap<>(builder.statistics));
    this.pattern = builder.pattern;
  }

  /** A context that knows nothing beyond the weights. */
  public static CriterionContext empty() {
    return EMPTY;
  }

  /** The context of {@code tensors} as the model consumes them (op, input index, transposition). */
  public static CriterionContext of(java.util.List<dev.lopper.model.PrunableTensor> tensors) {
    Builder builder = builder();
    for (dev.lopper.model.PrunableTensor t : tensors) {
      builder.optConsumer(t.name(), t.opType(), t.inputIndex(), t.transposed());
    }
    return builder.build();
  }

  /** A builder for a new context. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this context's content, to change and build a new one. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.consumers.putAll(consumers);
    builder.channelGroups = channelGroups;
    builder.statistics.putAll(statistics);
    builder.pattern = pattern;
    builder.compensation = compensation;
    return builder;
  }

  /** The consumer of tensor {@code tensorName}, if known. */
  public Optional<Consumer> consumer(String tensorName) {
    return Optional.ofNullable(consumers.get(tensorName));
  }

  /** Every known consumer by tensor name, in the order they were added. */
  public Map<String, Consumer> consumers() {
    return consumers;
  }

  /**
   * The model's channel groups (all of them, indexed by {@link ChannelGroup#id()}), or an empty
   * list when not supplied.
   */
  public List<ChannelGroup> channelGroups() {
    return channelGroups;
  }

  /** The calibration statistics of the activation entering tensor {@code tensorName}'s consumer, if known. */
  public Optional<InputStatistics> inputStatistics(String tensorName) {
    return Optional.ofNullable(statistics.get(tensorName));
  }

  /**
   * Where channel criteria add the removed channels' mean contribution (bias compensation), if
   * compensation is asked for; {@link CompensatingChannelCriterion} reads it.
   */
  public Optional<BiasCompensation> compensation() {
    return Optional.ofNullable(compensation);
  }

  /** The sparsity pattern masks must hold; {@link SparsityPattern#UNSTRUCTURED} unless given. */
  public SparsityPattern pattern() {
    return pattern;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CriterionContext c && consumers.equals(c.consumers)
        && channelGroups.equals(c.channelGroups) && statistics.equals(c.statistics) && pattern.equals(c.pattern);
  }

  @Override
  public int hashCode() {
    return ((consumers.hashCode() * 31 + channelGroups.hashCode()) * 31 + statistics.hashCode()) * 31
        + pattern.hashCode();
  }

  @Override
  public String toString() {
    return "CriterionContext[consumers=" + consumers
        + (channelGroups.isEmpty() ? "" : ", " + channelGroups.size() + " channel groups")
        + (statistics.isEmpty() ? "" : ", statistics of " + statistics.size() + " tensors")
        + (pattern.isNm() ? ", pattern " + pattern : "") + "]";
  }

  /** Builds a {@link CriterionContext}; every setting is optional. */
  public static final class Builder {
    private final Map<String, Consumer> consumers = new LinkedHashMap<>();
    private List<ChannelGroup> channelGroups = List.of();
    private final Map<String, InputStatistics> statistics = new LinkedHashMap<>();
    private SparsityPattern pattern = SparsityPattern.UNSTRUCTURED;
    private BiasCompensation compensation;

    private Builder() {}

    /** Sets where bias compensation goes (null: none). */
    public Builder optCompensation(BiasCompensation compensation) {
      this.compensation = compensation;
      return this;
    }

    /** Records the calibration statistics of tensor {@code tensorName}'s consumer input, replacing earlier ones. */
    public Builder optInputStatistics(String tensorName, InputStatistics stats) {
      statistics.put(Objects.requireNonNull(tensorName, "tensorName"), Objects.requireNonNull(stats, "stats"));
      return this;
    }

    /** Sets the sparsity pattern masks must hold. */
    public Builder optPattern(SparsityPattern pattern) {
      this.pattern = Objects.requireNonNull(pattern, "pattern");
      return this;
    }

    /**
     * Supplies the model's channel groups, as {@code ModelStructure.groups()} lists them (every
     * group, so that ids index the list), replacing earlier ones.
     */
    public Builder optChannelGroups(List<ChannelGroup> groups) {
      this.channelGroups = List.copyOf(groups);
      return this;
    }

    /** Records the op consuming tensor {@code tensorName}, replacing an earlier one. */
    public Builder optConsumer(String tensorName, Consumer consumer) {
      consumers.put(Objects.requireNonNull(tensorName, "tensorName"),
          Objects.requireNonNull(consumer, "consumer"));
      return this;
    }

    /** Records the op consuming tensor {@code tensorName}, replacing an earlier one. */
    public Builder optConsumer(String tensorName, String opType, int inputIndex, boolean transposed) {
      return optConsumer(tensorName, new Consumer(opType, inputIndex, transposed));
    }

    /** The context. */
    public CriterionContext build() {
      return new CriterionContext(this);
    }
  }
}
