package dev.lopper.criteria;

import dev.lopper.InvalidInputException;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ChannelSelection;
import dev.lopper.structure.TensorSlice;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Structured pruning by channel norm: removes whole channels of {@link ChannelGroup}s, the ones
 * whose producing weights have the smallest L1 ({@code channel-l1}) or L2 ({@code channel-l2})
 * norm.
 *
 * <p><b>Score.</b> A channel's score is the sum, over the group's producing tensors ({@link
 * ChannelGroup.Role#OUTPUT}: Conv filters, Gemm/MatMul output neurons), of the Lp norm of that
 * channel's slice of the tensor, computed in double precision. For a single producer that is
 * PyTorch's {@code prune.ln_structured(module, "weight", amount, n=p, dim=0)} score; for producers
 * joined by a residual Add it is the sum of their norms (for L2, the sum of the L2 norms, not the
 * norm of the concatenation). Biases, normalisation parameters and consumers' weights do not
 * score; they are removed with the channel.
 *
 * <p><b>Activation-aware scores</b> ({@code channel-fluctuation}, {@code channel-wanda}) come
 * from the group's consumers ({@link ChannelGroup.Role#INPUT}) and the calibration statistics of
 * their inputs ({@link CriterionContext#inputStatistics}), as FLAP scores the channels entering an
 * output projection; see {@link ChannelActivationScores}. Such a criterion reads the statistics
 * from the context in {@link #select}; for {@link #scores}, {@link #keep} and {@link #selection}
 * bind them first with {@link #withStatistics}.
 *
 * <p><b>Selection.</b> In a group of C channels, sparsity s removes Python's {@code round(s × C)}
 * channels (the double product rounded half to even, as PyTorch counts), those of smallest score,
 * the lower channel index first among equal scores. The masks prune every position of those
 * channels in every tensor of the group, producers' filters through consumers' input columns, so
 * that the masked model computes what the shrunk one ({@link dev.lopper.structure.ModelShrinker})
 * computes.
 *
 * <p><b>Through {@link PruningCriterion}.</b> {@link #select} needs the model's groups in the
 * {@link CriterionContext} ({@link CriterionContext.Builder#optChannelGroups}). It prunes, at the
 * given sparsity each, every prunable group whose tensors are all among the given ones, and
 * returns one mask per given tensor: a sensitivity sweep passes one group's {@link
 * ChannelGroup#tensors()} and measures the whole group. A given tensor outside such a group is bad
 * input (naming what is missing or why its group cannot be pruned), since pruning part of a group
 * would measure a model that cannot be built smaller. Allocation, with a sparsity per group, uses
 * {@link #selection}.
 *
 * <pre>{@code
 * ModelStructure structure = ModelStructure.analyse(model);
 * CriterionContext context = CriterionContext.builder().optChannelGroups(structure.groups()).build();
 * ChannelGroup group = structure.prunableGroups().get(0);
 * List<WeightTensor> tensors = group.tensors().stream().map(model::weight).toList();
 * MaskSet masks = Criteria.byName("channel-l1").select(tensors, 0.5, context);
 * }</pre>
 */
public final class ChannelCriterion implements PruningCriterion {

  private static final ChannelCriterion L1 = new ChannelCriterion("channel-l1", 1, Map.of());
  private static final ChannelCriterion L2 = new ChannelCriterion("channel-l2", 2, Map.of());
  private static final ChannelCriterion FLUCTUATION = new ChannelCriterion("channel-fluctuation",
      ChannelActivationScores.FLUCTUATION, Map.of());
  private static final ChannelCriterion WANDA_SP = new ChannelCriterion("channel-wanda",
      ChannelActivationScores.WANDA_SP, Map.of());

  private final String name;
  private final int norm;
  private final Map<String, InputStatistics> statistics;

  private ChannelCriterion(String name, int norm, Map<String, InputStatistics> statistics) {
    this.name = name;
    this.norm = norm;
    this.statistics = statistics;
  }

  /**
   * Channels scored by FLAP's fluctuation (WIFV) of their consumers' inputs, named {@code
   * channel-fluctuation}; needs calibration statistics.
   */
  public static ChannelCriterion fluctuation() {
    return FLUCTUATION;
  }

  /**
   * Channels scored by Wanda-sp (FLAP's WIFN): |W| times the input's root mean square, averaged
   * over each consumer's outputs, named {@code channel-wanda}; needs calibration statistics.
   */
  public static ChannelCriterion wandaSp() {
    return WANDA_SP;
  }

  /** Whether the scores come from calibration statistics of the consumers' inputs. */
  public boolean needsStatistics() {
    return norm == ChannelActivationScores.FLUCTUATION || norm == ChannelActivationScores.WANDA_SP;
  }

  /**
   * This criterion with the calibration statistics of its groups' consumers bound (by consumer
   * tensor name), for {@link #scores}, {@link #keep} and {@link #selection}; magnitude criteria
   * ignore them and are returned as they are.
   */
  public ChannelCriterion withStatistics(Map<String, InputStatistics> byTensor) {
    if (!needsStatistics()) {
      return this;
    }
    return new ChannelCriterion(name, norm, Collections.unmodifiableMap(new LinkedHashMap<>(byTensor)));
  }

  /** Channels scored by the L1 norm of their filters, named {@code channel-l1}. */
  public static ChannelCriterion l1() {
    return L1;
  }

  /** Channels scored by the L2 norm of their filters, named {@code channel-l2}. */
  public static ChannelCriterion l2() {
    return L2;
  }

  @Override
  public String name() {
    return name;
  }

  /** The norm's order p: 1 or 2 (a negative code for the activation-aware scores). */
  public int norm() {
    return norm;
  }

  /**
   * The score of every channel of {@code group}: the sum over its producing tensors of the
   * channel's Lp norm.
   *
   * @param weights holds at least the group's producing tensors
   */
  public double[] scores(ChannelGroup group, Map<String, WeightTensor> weights) {
    if (needsStatistics()) {
      return ChannelActivationScores.scores(norm, name, group, weights, statistics);
    }
    int channels = Math.toIntExact(group.channels());
    double[] scores = new double[channels];
    for (ChannelGroup.Member m : group.outputs()) {
      WeightTensor w = weights.get(m.tensor());
      if (w == null) {
        throw new IllegalArgumentException("criterion " + name + ": no weight given for tensor "
            + m.tensor() + ", a producer of group " + group.name());
      }
      double[] own = channelNorms(w, m, channels);
      for (int c = 0; c < channels; c++) {
        scores[c] += own[c];
      }
    }
    return scores;
  }

  /** The channels of {@code group} kept at {@code sparsity}, in increasing order. */
  public int[] keep(ChannelGroup group, Map<String, WeightTensor> weights, double sparsity) {
    checkSparsity(sparsity);
    return keep(scores(group, weights), sparsity);
  }

  /**
   * The channels kept in each group of {@code sparsities} (group id to sparsity), every group
   * pruned on its own scores.
   *
   * @param groups the model's groups, indexed by id
   * @param weights holds at least the producing tensors of the groups named
   * @throws InvalidInputException when a named group is not prunable or a sparsity is outside [0, 1]
   */
  public ChannelSelection selection(List<ChannelGroup> groups, Map<Integer, Double> sparsities,
      Map<String, WeightTensor> weights) {
    Map<Integer, int[]> kept = new LinkedHashMap<>();
    for (Map.Entry<Integer, Double> e : sparsities.entrySet()) {
      ChannelGroup group = groups.stream().filter(g -> g.id() == e.getKey()).findFirst()
          .orElseThrow(() -> new IllegalArgumentException("no channel group " + e.getKey()));
      if (!group.prunable()) {
        throw new InvalidInputException("channel group " + group.id() + " (" + group.name()
            + ") is not prunable structurally: " + group.reason());
      }
      kept.put(group.id(), keep(group, weights, e.getValue()));
    }
    return ChannelSelection.of(kept);
  }

  @Override
  public MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
    return selectGrid(tensors, new double[] {sparsity}, context).get(0);
  }

  /** {@link #select} for every sparsity of a grid, scoring each group once. */
  @Override
  public List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    List<ChannelSelection> selections = selections(tensors, sparsities, context);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    tensors.forEach(t -> shapes.put(t.name(), t.shape()));
    List<MaskSet> out = new ArrayList<>(sparsities.length);
    for (ChannelSelection selection : selections) {
      Map<String, TensorSlice> slices = selection.slices(context.channelGroups(), shapes);
      List<Mask> masks = new ArrayList<>(tensors.size());
      for (WeightTensor t : tensors) {
        TensorSlice slice = slices.get(t.name());
        masks.add(slice == null ? Mask.none(t.name(), t.shape()) : slice.mask());
      }
      out.add(MaskSet.of(masks));
    }
    return out;
  }

  /**
   * The channels {@link #selectGrid} keeps at each sparsity: every prunable group whose tensors are
   * all among {@code tensors}, pruned at that sparsity. An activation-aware criterion reads its
   * statistics from {@code context}.
   */
  public List<ChannelSelection> selections(List<WeightTensor> tensors, double[] sparsities,
      CriterionContext context) {
    Objects.requireNonNull(context, "context");
    for (double s : sparsities) {
      checkSparsity(s);
    }
    List<ChannelGroup> groups = context.channelGroups();
    if (groups.isEmpty()) {
      throw new InvalidInputException("criterion " + name + " prunes whole channel groups and needs"
          + " the model's groups in its context (CriterionContext.Builder.optChannelGroups with"
          + " ModelStructure.analyse(model).groups())");
    }
    Map<String, WeightTensor> byName = new LinkedHashMap<>();
    for (WeightTensor t : tensors) {
      if (byName.put(t.name(), t) != null) {
        throw new IllegalArgumentException("tensor " + t.name() + " is given twice to criterion " + name);
      }
    }
    List<ChannelGroup> selected = new ArrayList<>();
    for (ChannelGroup g : groups) {
      if (g.prunable() && byName.keySet().containsAll(g.tensors())) {
        selected.add(g);
      }
    }
    checkCovered(byName.keySet(), groups, selected);
    ChannelCriterion scoring = needsStatistics() ? withStatistics(statisticsOf(selected, context)) : this;
    List<double[]> scores = new ArrayList<>();
    for (ChannelGroup g : selected) {
      scores.add(scoring.scores(g, byName));
    }
    List<ChannelSelection> out = new ArrayList<>(sparsities.length);
    for (double sparsity : sparsities) {
      Map<Integer, int[]> kept = new LinkedHashMap<>();
      for (int i = 0; i < selected.size(); i++) {
        kept.put(selected.get(i).id(), keep(scores.get(i), sparsity));
      }
      out.add(ChannelSelection.of(kept));
    }
    return out;
  }

  /** The context's statistics of the consumers of {@code groups}, by tensor name. */
  private Map<String, InputStatistics> statisticsOf(List<ChannelGroup> groups, CriterionContext context) {
    Map<String, InputStatistics> out = new LinkedHashMap<>();
    for (ChannelGroup g : groups) {
      for (ChannelGroup.Member m : g.members()) {
        if (m.role() == ChannelGroup.Role.INPUT) {
          context.inputStatistics(m.tensor()).ifPresent(s -> out.put(m.tensor(), s));
        }
      }
    }
    return out;
  }

  /** Every given tensor must belong to a selected group; otherwise say what is wrong. */
  private void checkCovered(Set<String> given, List<ChannelGroup> groups, List<ChannelGroup> selected) {
    Set<String> covered = new HashSet<>();
    selected.forEach(g -> covered.addAll(g.tensors()));
    for (String tensor : given) {
      if (covered.contains(tensor)) {
        continue;
      }
      List<ChannelGroup> of = groups.stream().filter(g -> g.tensors().contains(tensor)).toList();
      if (of.isEmpty()) {
        throw new InvalidInputException("criterion " + name + ": tensor " + tensor
            + " is in no channel group, so it cannot be pruned by channels");
      }
      StringBuilder why = new StringBuilder();
      for (ChannelGroup g : of) {
        if (!g.prunable()) {
          why.append("; group ").append(g.id()).append(" (").append(g.name())
              .append(") is not prunable structurally: ").append(g.reason());
        } else {
          List<String> missing = g.tensors().stream().filter(n -> !given.contains(n)).toList();
          why.append("; group ").append(g.id()).append(" (").append(g.name())
              .append(") also needs ").append(missing);
        }
      }
      throw new InvalidInputException("criterion " + name + " prunes whole channel groups, and tensor "
          + tensor + " is given without the rest of its group" + why);
    }
    if (selected.isEmpty()) {
      throw new InvalidInputException("criterion " + name + ": no tensors given");
    }
  }

  /** Kept channels: all but the round-half-even(s × C) of smallest score, lower index first on ties. */
  static int[] keep(double[] scores, double sparsity) {
    int channels = scores.length;
    int pruned = (int) Math.rint(sparsity * (double) channels);
    Integer[] order = new Integer[channels];
    for (int c = 0; c < channels; c++) {
      order[c] = c;
    }
    Arrays.sort(order, (a, b) -> scores[a] != scores[b] ? Double.compare(scores[a], scores[b])
        : Integer.compare(a, b));
    int[] kept = new int[channels - pruned];
    for (int i = pruned; i < channels; i++) {
      kept[i - pruned] = order[i];
    }
    Arrays.sort(kept);
    return kept;
  }

  /** Per channel, the Lp norm of its positions in one member tensor. */
  private double[] channelNorms(WeightTensor w, ChannelGroup.Member m, int channels) {
    long[] shape = w.shape();
    int axis = m.axis();
    long outer = 1;
    for (int a = 0; a < axis; a++) {
      outer *= shape[a];
    }
    long dim = shape[axis];
    long inner = 1;
    for (int a = axis + 1; a < shape.length; a++) {
      inner *= shape[a];
    }
    if (m.offset() + channels * m.block() > dim) {
      throw new IllegalArgumentException("tensor " + w.name() + " " + Arrays.toString(shape)
          + " has no room for " + channels + " channels on axis " + axis);
    }
    double[] acc = new double[channels];
    FloatBuffer data = w.data();
    for (long o = 0; o < outer; o++) {
      for (int c = 0; c < channels; c++) {
        long from = m.offset() + c * m.block();
        int start = (int) ((o * dim + from) * inner);
        int length = (int) (m.block() * inner);
        double sum = 0;
        for (int i = start; i < start + length; i++) {
          double v = data.get(i);
          sum += norm == 1 ? Math.abs(v) : v * v;
        }
        acc[c] += sum;
      }
    }
    if (norm == 2) {
      for (int c = 0; c < channels; c++) {
        acc[c] = Math.sqrt(acc[c]);
      }
    }
    return acc;
  }

  private void checkSparsity(double sparsity) {
    if (!(sparsity >= 0.0 && sparsity <= 1.0)) {
      throw new InvalidInputException("sparsity " + sparsity + " for criterion " + name
          + " is outside [0, 1]");
    }
  }

  @Override
  public String toString() {
    return "ChannelCriterion[" + name + "]";
  }
}
