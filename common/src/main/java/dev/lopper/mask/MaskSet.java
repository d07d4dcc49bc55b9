package dev.lopper.mask;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.model.WeightTensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;

/**
 * An ordered, immutable set of {@link Mask}s with distinct tensor names, in the order they were
 * given. A criterion's answer, an allocation's result and the content of a mask file.
 *
 * <pre>{@code
 * MaskSet masks = criterion.select(tensors, 0.5, context);
 * Map<String, WeightTensor> replacements = masks.apply(weights);
 * masks.writeSafetensors("hdfs:///runs/r1/masks.safetensors", conf);
 * }</pre>
 */
public final class MaskSet {

  /** Metadata written into mask files, so that a reader knows what the bytes mean. */
  public static final Map<String, String> FILE_METADATA =
      Map.of("lopper.content", "pruning masks: 1 = kept, 0 = pruned");

  private static final MaskSet EMPTY = new MaskSet(new LinkedHashMap<>());

  private final Map<String, Mask> byName;

  private MaskSet(LinkedHashMap<String, Mask> byName) {
    this.byName = Collections.unmodifiableMap(byName);
  }

  /** A set holding {@code masks} in their order; names must be distinct. */
  public static MaskSet of(Collection<Mask> masks) {
    LinkedHashMap<String, Mask> map = new LinkedHashMap<>();
    for (Mask mask : masks) {
      if (map.putIfAbsent(mask.name(), mask) != null) {
        throw new IllegalArgumentException("two masks for tensor " + mask.name());
      }
    }
    return new MaskSet(map);
  }

  /** A set holding {@code masks} in their order; names must be distinct. */
  public static MaskSet of(Mask... masks) {
    return of(List.of(masks));
  }

  /** The set without masks. */
  public static MaskSet empty() {
    return EMPTY;
  }

  /** The masks, in order. */
  public List<Mask> masks() {
    return List.copyOf(byName.values());
  }

  /** The tensor names, in order. */
  public Set<String> names() {
    return byName.keySet();
  }

  /** The mask of tensor {@code name}, if the set holds one. */
  public Optional<Mask> get(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** Number of masks. */
  public int size() {
    return byName.size();
  }

  /** True when the set holds no mask. */
  public boolean isEmpty() {
    return byName.isEmpty();
  }

  /**
   * The pruned replacements of the masked tensors, in mask order; tensors without a mask are not
   * in the result.
   *
   * @throws InvalidInputException when a mask's tensor is missing from {@code weights} or has
   *     another shape
   */
  public Map<String, WeightTensor> apply(Map<String, WeightTensor> weights) {
    return apply(weights, null);
  }

  /**
   * Like {@link #apply(Map)}, writing each masked tensor into the buffer {@code buffers} holds
   * for its name ({@link Mask#apply(WeightTensor, FloatBuffer)}), allocated there on first use: the
   * returned tensors stay valid until the next call with the same buffers.
   *
   * @throws InvalidInputException when a mask names no tensor of {@code weights}, or shapes differ
   */
  public Map<String, WeightTensor> apply(Map<String, WeightTensor> weights, Map<String, FloatBuffer> buffers) {
    Map<String, WeightTensor> out = new LinkedHashMap<>();
    for (Mask mask : byName.values()) {
      WeightTensor weight = weights.get(mask.name());
      if (weight == null) {
        throw new InvalidInputException("mask for tensor " + mask.name()
            + ": no weight of that name among the " + weights.size() + " weights given");
      }
      out.put(mask.name(), buffers == null ? mask.apply(weight)
          : mask.apply(weight, buffers.computeIfAbsent(mask.name(), n -> WeightTensor.allocate(mask.size()))));
    }
    return Collections.unmodifiableMap(out);
  }

  /** Number of pruned positions over all masks. */
  public long totalPruned() {
    long total = 0;
    for (Mask mask : byName.values()) {
      total += mask.prunedCount();
    }
    return total;
  }

  /** Number of positions over all masks. */
  public long totalParameters() {
    long total = 0;
    for (Mask mask : byName.values()) {
      total += mask.size();
    }
    return total;
  }

  /** Fraction of all masked positions that are pruned; 0.0 when there are none. */
  public double sparsity() {
    long total = totalParameters();
    return total == 0 ? 0.0 : (double) totalPruned() / total;
  }

  /**
   * This set's masks followed by {@code other}'s.
   *
   * @throws IllegalArgumentException when both sets hold a mask for the same tensor
   */
  public MaskSet merge(MaskSet other) {
    LinkedHashMap<String, Mask> map = new LinkedHashMap<>(byName);
    for (Mask mask : other.byName.values()) {
      if (map.putIfAbsent(mask.name(), mask) != null) {
        throw new IllegalArgumentException("both mask sets hold a mask for tensor " + mask.name());
      }
    }
    return new MaskSet(map);
  }

  /**
   * One row per mask, in order: tensor, readable name, shape and counts.
   *
   * @param readableNames the readable names of anonymous tensors by tensor name (see {@code
   *     dev.lopper.model.ReadableNames}); a tensor it lacks has none
   */
  public List<MaskSummaryRow> summaryRows(Map<String, String> readableNames) {
    List<MaskSummaryRow> rows = new ArrayList<>(byName.size());
    for (Mask mask : byName.values()) {
      rows.add(MaskSummaryRow.of(mask, readableNames.get(mask.name())));
    }
    return rows;
  }

  /**
   * {@link #summaryRows} as a table, with columns {@code tensor} (STRING), {@code node} (STRING,
   * only when some tensor has a readable name), {@code shape} (LONG_LIST), {@code parameters},
   * {@code kept}, {@code pruned} (LONG) and {@code density} (DOUBLE).
   */
  public Table summary(Map<String, String> readableNames) {
    return MaskSummaryRow.SCHEMA.table(summaryRows(readableNames));
  }

  /**
   * Writes the masks to a safetensors file, atomically: one {@code BOOL} tensor per mask, named
   * like its weight, with the weight's shape, 1 = kept and 0 = pruned (see {@link
   * Mask#toBoolBytes()}).
   */
  public void writeSafetensors(String path, Configuration conf) {
    List<Safetensors.Payload> payloads = new ArrayList<>(byName.size());
    for (Mask mask : byName.values()) {
      payloads.add(new Safetensors.Payload(mask.name(), "BOOL", mask.shape(), mask.toBoolBytes()));
    }
    Safetensors.write(path, conf, payloads, FILE_METADATA);
  }

  /**
   * Reads masks from a safetensors file, in header order. Every tensor must be {@code BOOL} or
   * {@code U8} and hold only 0 (pruned) and 1 (kept); anything else is bad input naming the file
   * and tensor.
   */
  public static MaskSet readSafetensors(String path, Configuration conf) {
    Safetensors.File file = Safetensors.open(path, conf);
    List<Mask> masks = new ArrayList<>(file.entries().size());
    for (Safetensors.Entry entry : file.entries().values()) {
      if (!entry.dtype().equals("BOOL") && !entry.dtype().equals("U8")) {
        throw new InvalidInputException(path + ": tensor " + entry.name() + " has dtype "
            + entry.dtype() + ", expected BOOL or U8 for a mask");
      }
      try {
        masks.add(Mask.fromBoolBytes(entry.name(), entry.shape(), file.readBytes(entry)));
      } catch (InvalidInputException | IllegalArgumentException e) {
        throw new InvalidInputException(path + ": " + e.getMessage(), e);
      }
    }
    return of(masks);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MaskSet other && masks().equals(other.masks());
  }

  @Override
  public int hashCode() {
    return masks().hashCode();
  }

  @Override
  public String toString() {
    return "MaskSet[" + byName.size() + " masks, " + totalPruned() + " of " + totalParameters()
        + " pruned]";
  }
}
