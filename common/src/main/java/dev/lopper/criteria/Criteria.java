package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The criteria configuration can name: {@code magnitude} (alias {@code l1-unstructured}, PyTorch's
 * name), {@code global-magnitude}, the structured {@code channel-l1} and {@code channel-l2} (whole
 * channels of channel groups, see {@link ChannelCriterion}), the activation-aware structured
 * {@code channel-fluctuation} and {@code channel-wanda} (FLAP's metrics on channel groups), and the activation-aware {@code wanda}
 * (see {@link WandaCriterion}; it needs calibration statistics in its context).
 * {@link SparseGptCriterion} is not listed here: it rewrites weights, so its callers use it as a
 * {@link ReconstructingCriterion}.
 *
 * <pre>{@code
 * PruningCriterion criterion = Criteria.byName(config.criterion());
 * }</pre>
 */
public final class Criteria {

  private static final Map<String, PruningCriterion> CANONICAL = new LinkedHashMap<>();
  private static final Map<String, String> ALIASES = new LinkedHashMap<>();

  static {
    register(MagnitudeCriterion.local());
    register(MagnitudeCriterion.global());
    register(ChannelCriterion.l1());
    register(ChannelCriterion.l2());
    register(ChannelCriterion.fluctuation());
    register(ChannelCriterion.wandaSp());
    register(WandaCriterion.instance());
    // Registered with the default dampening; runs build theirs from calibration.dampening. Callers
    // that read masks only (select) lose its updated weights: use ReconstructingCriterion#pruneGrid.
    register(new SparseGptCriterion());
    ALIASES.put("l1-unstructured", MagnitudeCriterion.local().name());
  }

  private Criteria() {}

  private static void register(PruningCriterion criterion) {
    CANONICAL.put(criterion.name(), criterion);
  }

  /**
   * The criterion named {@code name} (a canonical name or an alias, matched exactly).
   *
   * @throws InvalidInputException for an unknown name, listing the known ones
   */
  public static PruningCriterion byName(String name) {
    PruningCriterion criterion = CANONICAL.get(ALIASES.getOrDefault(name, name));
    if (criterion == null) {
      throw new InvalidInputException("unknown pruning criterion '" + name + "'; known criteria: "
          + CANONICAL.keySet().stream().map(Criteria::describe).collect(Collectors.joining(", ")));
    }
    return criterion;
  }

  /**
   * The criterion named {@code name} with a run's settings: SparseGPT with {@code dampening} (a
   * fraction of the mean diagonal of each Gram matrix), every other criterion as {@link #byName}.
   */
  public static PruningCriterion configured(String name, double dampening) {
    PruningCriterion criterion = byName(name);
    return criterion instanceof SparseGptCriterion s && s.dampening() != dampening
        ? new SparseGptCriterion(dampening, s.blockSize()) : criterion;
  }

  /** The canonical names of the known criteria (aliases not included). */
  public static List<String> names() {
    return List.copyOf(CANONICAL.keySet());
  }

  /** Every name {@link #byName} accepts: the canonical names, then the aliases. */
  public static List<String> acceptedNames() {
    List<String> names = new java.util.ArrayList<>(CANONICAL.keySet());
    names.addAll(ALIASES.keySet());
    return List.copyOf(names);
  }

  private static String describe(String canonical) {
    List<String> aliases = ALIASES.entrySet().stream()
        .filter(e -> e.getValue().equals(canonical)).map(Map.Entry::getKey).toList();
    return aliases.isEmpty() ? canonical : canonical + " (alias " + String.join(", ", aliases) + ")";
  }
}
