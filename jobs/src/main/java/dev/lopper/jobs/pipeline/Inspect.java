package dev.lopper.jobs.pipeline;

import dev.lopper.InvalidInputException;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.SparsityPattern;
import dev.lopper.criteria.WeightLayout;
import dev.lopper.eval.Evaluator;
import dev.lopper.jobs.allocation.CostUnit;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.eval.Logits;
import dev.lopper.metrics.Scoring;
import dev.lopper.metrics.Task;
import dev.lopper.model.ModelInputs;
import dev.lopper.jobs.sweep.SweepItem;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import dev.lopper.structure.ChannelCost;
import dev.lopper.structure.ChannelGroup;
import dev.lopper.structure.ModelStructure;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;

/**
 * The first step of every run, {@code check} included: the model loaded and checked on the
 * driver, without Spark — its prunable tensors, its inputs (one float features input against
 * {@code data.input-shape}, or token inputs and an output that fits the metric), its number of
 * classes, that replaced weights take effect in ONNX Runtime, and for structured criteria or
 * {@code allocation.unit: flops} its channel groups and costs.
 */
public final class Inspect {

  private Inspect() {}

  /**
   * Loads and checks the model of {@code config}. The model's source is qualified here because
   * executors load it again by that name, from working directories of their own: a relative path
   * resolves against the driver's.
   *
   * @throws InvalidInputException naming the file, input or tensor that is wrong
   */
  public static InspectedModel model(LopperConfig config, Configuration hadoop) {
    ModelSource source = new ModelSource(config.model().onnx(), config.model().weights()).qualified(hadoop);
    OnnxModel model = OnnxModel.load(source, hadoop);
    List<PrunableTensor> tensors = PrunableTensors.find(model, config.model().include(), config.model().exclude());
    checkCalibrated(config, model, tensors);
    ModelInputs inputs = ModelInputs.of(model);
    if (inputs.sequences()) {
      return sequenceModel(config, model, inputs, tensors);
    }
    if (model.inputs().size() != 1) {
      throw new InvalidInputException(config.model().onnx() + ": the model has " + model.inputs().size()
          + " inputs " + model.inputs() + "; Lopper feeds one float features input, or integer token inputs"
          + " (input_ids, attention_mask, ...) from list columns");
    }
    long[] rowShape = rowShape(config, model);
    int classes;
    Scoring scoring;
    try (Evaluator evaluator = new Evaluator(model)) {
      evaluator.checkReplacementsTakeEffect(tensors);
      long[] out = model.outputs().get(0).dims();
      DecisionMetric metric = config.metric();
      if (metric == DecisionMetric.PERPLEXITY) {
        throw new InvalidInputException("metric perplexity: " + config.model().onnx() + " takes float features ("
            + model.inputs().get(0) + "), not token ids; perplexity is a language model's metric");
      }
      classes = metric == DecisionMetric.COSINE ? 0
          : out.length == 2 && out[1] > 0 ? (int) out[1] : evaluator.classes(rowShape);
      scoring = metric == DecisionMetric.COSINE ? Scoring.fidelity() : Scoring.classification(classes);
    }
    boolean flops = config.allocation().unit() == CostUnit.FLOPS;
    if (Criteria.byName(config.sweep().criterion()) instanceof ChannelCriterion) {
      ModelStructure structure = ModelStructure.analyse(model);
      ChannelCost cost = checkedCost(ChannelCost.of(structure), flops, config);
      return new InspectedModel(model, tensors, rowShape, classes, scoring, inputs, structure,
          channelGroups(structure, tensors), cost);
    }
    ChannelCost cost = null;
    if (flops) {
      cost = checkedCost(ChannelCost.of(model, List.of()), true, config);
      for (PrunableTensor t : tensors) {
        if (cost.weightMacs(t.name()) <= 0) {
          throw new InvalidInputException("allocation.unit flops: tensor " + t.name() + " (" + t.opType() + " node "
              + t.nodeName() + ") has no multiply-accumulates Lopper can count; exclude it or count parameters");
        }
      }
    }
    return new InspectedModel(model, tensors, rowShape, classes, scoring, inputs, null,
        tensors.stream().map(SweepItem::of).toList(), cost);
  }

  /**
   * What pruning from calibration statistics needs of the tensors, checked before any data is read:
   * an N:M pattern fits every tensor's rows (M divides its inputs per output), and activation-aware
   * criteria and policy owl can read every tensor's consumer input (no grouped convolution).
   */
  private static void checkCalibrated(LopperConfig config, OnnxModel model, List<PrunableTensor> tensors) {
    SparsityPattern pattern = config.sweep().pattern();
    if (pattern.isNm()) {
      for (PrunableTensor t : tensors) {
        WeightLayout layout = WeightLayout.of(t.name(), t.shape(),
            new CriterionContext.Consumer(t.opType(), t.inputIndex(), t.transposed()));
        pattern.checkFits(t.name() + (t.readableName() != null ? " (" + t.readableName() + ")" : ""), layout.cols());
      }
    }
    if (CalibratedPruning.applies(config) || config.sweep().channelStatistics()) {
      ConsumerInputs.of(model, tensors);
    }
  }

  /**
   * A model of token inputs: every input an integer list per row ({@code [batch, positions]}), the
   * metric one of a language model's (perplexity, loss, accuracy: logits per position) or cosine
   * (any output), the output checked on a probe batch to fit it.
   */
  private static InspectedModel sequenceModel(LopperConfig config, OnnxModel model, ModelInputs inputs,
      List<PrunableTensor> tensors) {
    String path = config.model().onnx();
    for (ModelInputs.Input input : inputs.inputs()) {
      if (input.isFloat() || input.batchType() == null) {
        throw new InvalidInputException(path + ": input " + input + " is " + input.typeName() + "; beside token"
            + " inputs Lopper feeds only integer inputs (int64, int32) from list columns");
      }
      if (input.dims().length != 2) {
        throw new InvalidInputException(path + ": input " + input + " has " + input.dims().length
            + " dimensions; Lopper feeds token inputs of shape [batch, positions]");
      }
    }
    if (config.allocation().unit() == CostUnit.FLOPS) {
      throw new InvalidInputException(path + " takes token inputs " + inputs.names() + "; allocation.unit flops"
          + " counts multiply-accumulates of models of float features, whose shapes follow from the input shape;"
          + " count a transformer's parameters (allocation.unit params)");
    }
    DecisionMetric metric = config.metric();
    Scoring scoring = switch (metric) {
      case PERPLEXITY, LOSS, ACCURACY -> Scoring.languageModel();
      case COSINE -> Scoring.fidelity();
      default -> throw new InvalidInputException("metric " + metric.configName() + " is a classifier's; "
          + path + " takes token inputs " + inputs.names() + ", so the metric is perplexity, loss or accuracy"
          + " (a language model's logits per position) or cosine (fidelity of any output to the dense model's)");
    };
    if (inputs.inputs().stream().noneMatch(i -> i.vocabulary() > 0) && scoring.task() == Task.LANGUAGE_MODEL
        && config.data().targets() == null) {
      throw new InvalidInputException(path + ": no input indexes an embedding table, so none holds token ids to"
          + " shift into targets; name the target column with data.targets");
    }
    try (Evaluator evaluator = new Evaluator(model)) {
      Logits probe = evaluator.checkReplacementsTakeEffect(tensors);
      if (scoring.task() == Task.LANGUAGE_MODEL && probe.positions() != evaluator.probePositions()) {
        throw new InvalidInputException(path + ": output " + model.outputs().get(0).name() + " is " + probe
            + " for a probe batch of " + evaluator.probePositions() + " positions; metric " + metric.configName()
            + " needs logits [rows, positions, vocabulary] with one position per token");
      }
      long vocabulary = inputs.inputs().stream().mapToLong(ModelInputs.Input::vocabulary).max().orElse(-1);
      if (scoring.task() == Task.LANGUAGE_MODEL && vocabulary > 0 && probe.classes() != vocabulary) {
        throw new InvalidInputException(path + ": output " + model.outputs().get(0).name() + " has " + probe.classes()
            + " values per position, the token vocabulary " + vocabulary + " (the embedding table's rows): it is"
            + " not next-token logits, so metric " + metric.configName() + " does not apply; compare outputs with"
            + " metric cosine");
      }
    }
    if (Criteria.byName(config.sweep().criterion()) instanceof ChannelCriterion) {
      // Heads and FFN neurons: the groups come from the same graph walk as a CNN's channels.
      ModelStructure structure = ModelStructure.analyse(model);
      return new InspectedModel(model, tensors, new long[0], 0, scoring, inputs, structure,
          channelGroups(structure, tensors), ChannelCost.of(structure));
    }
    return new InspectedModel(model, tensors, new long[0], 0, scoring, inputs, null,
        tensors.stream().map(SweepItem::of).toList(), null);
  }

  /** One row's input shape: {@code data.input-shape} checked against the model's input, or the input's own. */
  private static long[] rowShape(LopperConfig config, OnnxModel model) {
    long[] dims = model.inputs().get(0).dims();
    if (config.data().inputShape() != null && !config.data().inputShape().isEmpty()) {
      long[] rowShape = config.data().inputShape().stream().mapToLong(Long::longValue).toArray();
      boolean fits = rowShape.length == dims.length - 1;
      for (int i = 0; fits && i < rowShape.length; i++) {
        fits = dims[i + 1] <= 0 || dims[i + 1] == rowShape[i];
      }
      if (!fits) {
        throw new InvalidInputException("data.input-shape " + Arrays.toString(rowShape) + " does not fit input "
            + model.inputs().get(0) + " of " + config.model().onnx() + " (-1: any size; the first dimension is the batch)");
      }
      return rowShape;
    }
    long[] rowShape = Arrays.copyOfRange(dims, 1, dims.length);
    if (Arrays.stream(rowShape).anyMatch(d -> d <= 0)) {
      throw new InvalidInputException(config.model().onnx() + ": input " + model.inputs().get(0)
          + " has symbolic dimensions besides the batch; set data.input-shape");
    }
    return rowShape;
  }

  /** {@code cost}, after checking that every multiply-accumulate could be counted when FLOPs are wanted. */
  private static ChannelCost checkedCost(ChannelCost cost, boolean flops, LopperConfig config) {
    if (flops && !cost.dense().complete()) {
      List<String> unknown = cost.dense().nodes().stream().filter(n -> n.macs() < 0)
          .map(n -> n.op() + " " + n.node()).toList();
      throw new InvalidInputException("allocation.unit flops: the multiply-accumulates of " + unknown + " in "
          + config.model().onnx() + " cannot be counted (their shapes are unknown from the input shape); "
          + "count parameters instead");
    }
    return cost;
  }

  /**
   * The channel groups to sweep: every prunable group whose producing tensors are all among {@code
   * selected} (the prunable tensors that {@code model.include} and {@code model.exclude} let
   * through), in group order.
   *
   * @throws InvalidInputException when no group qualifies, with the reasons groups are blocked
   */
  static List<SweepItem> channelGroups(ModelStructure structure, List<PrunableTensor> selected) {
    Set<String> names = new HashSet<>();
    selected.forEach(t -> names.add(t.name()));
    List<SweepItem> items = new ArrayList<>();
    for (ChannelGroup g : structure.prunableGroups()) {
      if (g.outputs().stream().allMatch(m -> names.contains(m.tensor()))) {
        items.add(SweepItem.of(g, structure.tensorShapes()));
      }
    }
    if (items.isEmpty()) {
      StringBuilder why = new StringBuilder();
      for (ChannelGroup g : structure.groups()) {
        why.append("; ").append(g.name()).append(": ")
            .append(g.prunable() ? "excluded by model.include/model.exclude" : g.reason());
      }
      throw new InvalidInputException(structure.model().source().onnxPath() + ": no channel group can be pruned"
          + " structurally" + (structure.groups().isEmpty() ? " (the graph has none)" : why.toString()));
    }
    return items;
  }
}
