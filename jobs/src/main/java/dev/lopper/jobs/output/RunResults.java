package dev.lopper.jobs.output;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.lopper.metrics.MetricValues;
import dev.lopper.metrics.Tally;
import dev.lopper.metrics.Task;
import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The manifest's {@code results}: one JSON object made of typed sections, records that Jackson
 * writes one after the other (components in snake_case, in declaration order) and reads back one
 * by one from the same object. A run reports the sections that apply to it, in this order:
 *
 * <ul>
 *   <li>{@code sensitivity}: {@link Data}, {@link Sweep}, {@link SweepUnits};
 *   <li>{@code prune}, element masks: {@link Data}, {@link SweepUnits} (when it swept), {@link Masks},
 *       {@link Verified};
 *   <li>{@code prune}, channel groups: {@link Data}, {@link SweepUnits}, {@link Channels}, {@link Latency}
 *       (with {@code allocation.min-speedup}), {@link Compensation} (with {@code structure.compensate}),
 *       {@link Verified}.
 * </ul>
 *
 * <pre>{@code
 * Map<String, Object> json = RunResults.toMap(outcome.results());          // into the manifest
 * Optional<RunResults.Verified> v = RunResults.read(manifest.results(), RunResults.Verified.class);
 * }</pre>
 */
public final class RunResults {

  private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {};

  private RunResults() {}

  /**
   * The sections as one JSON-able map, in order.
   *
   * @throws IllegalArgumentException when two sections have a field of the same name
   */
  public static Map<String, Object> toMap(List<Record> sections) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Record section : sections) {
      Map<String, Object> fields = Manifest.JSON.convertValue(section, MAP);
      for (Map.Entry<String, Object> e : fields.entrySet()) {
        if (out.containsKey(e.getKey())) {
          throw new IllegalArgumentException("results field " + e.getKey() + " is in two sections");
        }
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  /**
   * The section of type {@code section} in a manifest's results: present when the results hold
   * every field of the section that is always written (all but those annotated {@code
   * JsonInclude.NON_NULL}); sections share some names ({@code policy}, {@code parameters}), never
   * all of them.
   */
  public static <R extends Record> Optional<R> read(Map<String, Object> results, Class<R> section) {
    if (results == null) {
      return Optional.empty();
    }
    PropertyNamingStrategies.SnakeCaseStrategy names = new PropertyNamingStrategies.SnakeCaseStrategy();
    for (RecordComponent c : section.getRecordComponents()) {
      // JsonInclude cannot target record components; Java carries it to the accessor.
      JsonInclude include = c.getAccessor().getAnnotation(JsonInclude.class);
      boolean optional = include != null && include.value() == JsonInclude.Include.NON_NULL;
      if (!optional && !results.containsKey(names.translate(c.getName()))) {
        return Optional.empty();
      }
    }
    return Optional.of(Manifest.JSON.convertValue(results, section));
  }

  /**
   * The data and what was swept.
   *
   * @param rows validation rows
   * @param partitions data partitions
   * @param tensors prunable tensors selected
   * @param groups channel groups swept (channel criteria only)
   */
  public record Data(long rows, int partitions, int tensors,
      @JsonInclude(JsonInclude.Include.NON_NULL) Integer groups) {}

  /**
   * A sensitivity run's sweep.
   *
   * @param variants items × sparsities evaluated
   * @param dense the dense baseline's metrics
   */
  public record Sweep(long variants, Metrics dense) {}

  /**
   * The sweep's units (Spark tasks), of a run that swept.
   *
   * @param sweepUnits the units of the sweep's plan
   * @param sweepUnitsReused those reused from the checkpoint of an interrupted run ({@code --resume})
   *     rather than computed
   */
  public record SweepUnits(int sweepUnits, int sweepUnitsReused) {}

  /**
   * A prune with element masks.
   *
   * @param policy the allocation policy
   * @param target {@code allocation.target}
   * @param unit what the target counts ({@code parameters}, {@code flops})
   * @param prunedMacsFraction with unit {@code flops}: the fraction of the prunable tensors'
   *     multiply-accumulates whose weights the masks zero
   * @param sparsity the masks' overall sparsity
   * @param prunedParameters weights the masks zero
   * @param parameters weights of the prunable tensors
   * @param pattern the N:M pattern every pruned tensor holds ({@code sweep.pattern}), null when unstructured
   */
  public record Masks(String policy, double target, String unit,
      @JsonInclude(JsonInclude.Include.NON_NULL) Double prunedMacsFraction, double sparsity, long prunedParameters,
      long parameters, @JsonInclude(JsonInclude.Include.NON_NULL) String pattern) {

    /** Masks without a pattern (unstructured). */
    public Masks(String policy, double target, String unit, Double prunedMacsFraction, double sparsity,
        long prunedParameters, long parameters) {
      this(policy, target, unit, prunedMacsFraction, sparsity, prunedParameters, parameters, null);
    }
  }

  /**
   * A prune in whole channels: the smaller model against the dense one.
   *
   * @param groupsNotPrunable channel groups the analysis blocked
   * @param policy the allocation policy
   * @param target {@code allocation.target}; null when {@code allocation.min-speedup} decides
   *     without a named target
   * @param unit what the target counts
   * @param policyTarget the target the policy was given to reach {@code removedFraction} (null for
   *     policies without one)
   * @param removedFraction the fraction of the model's cost, in {@code unit}, removed
   * @param parameters the dense model's parameters
   * @param parametersPruned the smaller model's
   * @param macs the dense model's multiply-accumulates
   * @param macsPruned the smaller model's
   * @param bytes the dense model's ONNX bytes as Lopper writes models
   * @param bytesPruned the smaller model's written bytes
   * @param parameterRatio {@code parameters / parametersPruned}
   * @param macRatio {@code macs / macsPruned}
   * @param sizeRatio {@code bytes / bytesPruned}
   * @param channels channels of the swept groups
   * @param channelsPruned channels removed
   */
  public record Channels(int groupsNotPrunable, String policy, Double target, String unit, Double policyTarget,
      double removedFraction, long parameters, long parametersPruned, long macs, long macsPruned, long bytes,
      long bytesPruned, double parameterRatio, double macRatio, double sizeRatio, long channels,
      long channelsPruned) {}

  /**
   * Bias compensation of a prune in whole channels ({@code structure.compensate}).
   *
   * @param compensatedBiases how many consumer biases the emitted model's compensation changed
   * @param compensationBlocked per channel group that could not be compensated, why (group name to reason)
   */
  public record Compensation(int compensatedBiases, Map<String, String> compensationBlocked) {}

  /**
   * A prune in whole channels under {@code allocation.min-speedup}.
   *
   * @param minSpeedup the speed-up asked for
   * @param latencyBatch rows per timed batch
   * @param latencyMultiplier the latency constraint's multiplier (null when not finite)
   * @param unconstrainedPredictedSpeedup the plain policy's predicted speed-up (null when not finite)
   * @param requiredPredictedSpeedup the predicted speed-up the last allocation was asked for
   * @param latencyAttempts allocations measured
   * @param predictedSpeedup the chosen allocation's predicted speed-up (null when not finite)
   * @param measuredSpeedup the smaller model's measured speed-up
   * @param latencyDenseUs the dense model's measured latency, µs
   * @param latencyPrunedUs the smaller model's, µs
   * @param latencySequence tokens per row timed (a model of token inputs; null for one float input)
   * @param measuredSpeedupError the standard error of {@code measuredSpeedup} (null when not finite)
   * @param latencyPairs the paired runs of the smaller and the dense model behind {@code measuredSpeedup}
   */
  public record Latency(double minSpeedup, int latencyBatch, Double latencyMultiplier,
      Double unconstrainedPredictedSpeedup, double requiredPredictedSpeedup, int latencyAttempts,
      Double predictedSpeedup, double measuredSpeedup, double latencyDenseUs, double latencyPrunedUs,
      Integer latencySequence, Double measuredSpeedupError, int latencyPairs) {}

  /**
   * The verification of a pruned model.
   *
   * @param metric the decision metric
   * @param predictedDrop the allocation's predicted drop
   * @param measuredDrop the verified drop
   * @param dense the dense model's metrics on the whole validation set
   * @param pruned the pruned model's
   */
  public record Verified(String metric, double predictedDrop, double measuredDrop, Metrics dense, Metrics pruned) {}

  /**
   * A model's metrics as the results report them: null for a metric that is not a number (no
   * labels, one class).
   */
  public record Metrics(Double accuracy, Double top5, Double loss, Double precisionMacro, Double recallMacro,
      Double f1Macro, Double kl, long samples, @JsonInclude(JsonInclude.Include.NON_NULL) Double perplexity,
      @JsonInclude(JsonInclude.Include.NON_NULL) Double cosine,
      @JsonInclude(JsonInclude.Include.NON_NULL) Double tokenCosine,
      @JsonInclude(JsonInclude.Include.NON_NULL) Double relativeError) {

    /** A classifier's metrics. */
    public Metrics(Double accuracy, Double top5, Double loss, Double precisionMacro, Double recallMacro,
        Double f1Macro, Double kl, long samples) {
      this(accuracy, top5, loss, precisionMacro, recallMacro, f1Macro, kl, samples, null, null, null, null);
    }

    /** The metrics of a merged tally; a language model's and a fidelity comparison's only when measured. */
    public static Metrics of(Tally tally) {
      dev.lopper.metrics.Metrics m = tally.metrics();
      Task task = m.task();
      return new Metrics(number(m.accuracy()), number(m.top5()), number(m.loss()), number(m.precisionMacro()),
          number(m.recallMacro()), number(m.f1Macro()), number(m.kl()), m.samples(),
          task == Task.LANGUAGE_MODEL ? number(m.perplexity()) : null,
          task == Task.FIDELITY ? number(m.cosine()) : null, task == Task.FIDELITY ? number(m.tokenCosine()) : null,
          task == Task.FIDELITY ? number(m.relativeError()) : null);
    }

    private static Double number(double x) {
      return Double.isNaN(x) ? null : x;
    }

    /** Each metric's value by its name in the results, in order; {@code samples} is not a metric. */
    public Map<String, Double> byName() {
      return new MetricValues(accuracy, top5, loss, precisionMacro, recallMacro, f1Macro, kl, perplexity, cosine,
          tokenCosine, relativeError).byColumn();
    }

    /** The value of decision metric {@code metric} ({@code f1} is {@code f1_macro}), or NaN when not a number. */
    public double value(String metric) {
      Double v = byName().get(MetricValues.column(metric));
      return v == null ? Double.NaN : v;
    }
  }
}
