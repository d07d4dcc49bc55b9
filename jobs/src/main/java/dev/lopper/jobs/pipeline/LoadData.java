package dev.lopper.jobs.pipeline;

import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.VariantSession;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.data.SequenceSpec;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.metrics.Task;
import dev.lopper.model.ModelInputs;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The data step: the validation set read once on Spark, decoded and checked against the model
 * (columns, types, lengths, labels or token ids in range) and cached for the sweep and the
 * verification. Timed as stage {@code data}.
 */
public final class LoadData {

  private LoadData() {}

  /** Reads and caches the validation data of {@code config}; the caller releases it. */
  public static ValidationData run(SparkRun spark, LopperConfig config, InspectedModel model, RunContext run) {
    ValidationData.Spec spec = spec(config, model);
    return run.timings().time("data", () -> {
      ValidationData data = ValidationData.load(spark.session(), spec, model.classes());
      if (model.sequences()) {
        try {
          checkLongestRunsInTheModel(model, spec.sequences(), data.longest(), config.data().path());
        } catch (RuntimeException e) {
          data.release();
          throw e;
        }
      }
      return data;
    });
  }

  /** What to read: float features and labels, or a column per token input of the model. */
  static ValidationData.Spec spec(LopperConfig config, InspectedModel model) {
    if (!model.sequences()) {
      return new ValidationData.Spec(config.data().path(), config.data().features(),
          config.data().hasLabels() && model.scoring().task() == Task.CLASSIFICATION ? config.data().label() : null,
          model.rowShape(), config.data().partitions());
    }
    return ValidationData.Spec.sequences(config.data().path(), sequences(config, model.inputs(),
        model.scoring().task() == Task.LANGUAGE_MODEL), config.data().partitions());
  }

  /**
   * The columns of a model of token inputs: each input from {@code data.inputs} or the column of its
   * name; the attention mask is the input whose name says so ({@code attention_mask}, or any name
   * containing {@code mask}); the token ids are {@code input_ids} or else the input indexing the
   * largest embedding table.
   */
  static SequenceSpec sequences(LopperConfig config, ModelInputs inputs, boolean predicts) {
    for (String input : config.data().inputs().keySet()) {
      if (inputs.get(input) == null) {
        throw new InvalidInputException("data.inputs: " + config.model().onnx() + " has no input " + input
            + "; its inputs are " + inputs.names());
      }
    }
    List<SequenceSpec.Column> columns = new ArrayList<>();
    String mask = null;
    ModelInputs.Input tokens = null;
    for (ModelInputs.Input input : inputs.inputs()) {
      columns.add(new SequenceSpec.Column(input.name(), config.data().column(input.name()), input.batchType(),
          input.vocabulary()));
      if (input.name().toLowerCase(Locale.ROOT).contains("mask") && input.vocabulary() < 0
          && (mask == null || input.name().equals("attention_mask"))) {
        mask = input.name();
      }
      if (tokens == null || input.vocabulary() > tokens.vocabulary()) {
        tokens = input;
      }
    }
    tokens = inputs.get("input_ids") != null ? inputs.get("input_ids") : tokens;
    long[] dims = inputs.inputs().get(0).dims();
    int length = dims.length > 1 && dims[1] > 0 ? Math.toIntExact(dims[1]) : 0;
    return new SequenceSpec(columns, mask, tokens.name(), config.data().targets(), length, predicts);
  }

  /**
   * Runs the dense model once on a row as long as the longest of the data: a sequence longer than
   * the model's position table fails here, with one message, rather than in every task.
   */
  private static void checkLongestRunsInTheModel(InspectedModel model, SequenceSpec seq, int longest, String path) {
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator evaluator = new Evaluator(model.model());
        SequenceBatchBuilder builder = new SequenceBatchBuilder(seq.builderInputs(), seq.tokens(), seq.mask(), 1,
            allocator)) {
      long[][] row = new long[seq.inputs().size()][];
      for (int i = 0; i < row.length; i++) {
        row[i] = new long[longest];
        java.util.Arrays.fill(row[i], seq.inputs().get(i).input().equals(seq.mask()) ? 1 : 0);
      }
      builder.padTo(seq.mask() != null ? seq.length() : 0).add(row, null);
      try (Batch batch = builder.build(); VariantSession dense = evaluator.dense()) {
        dense.logits(batch);
      } catch (IllegalStateException e) {
        throw new InvalidInputException(path + ": its longest rows have " + longest + " tokens, and "
            + model.model().source().onnxPath() + " fails on a sequence of " + longest + " (longer than its"
            + " position table?): " + firstLine(e.getMessage()), e);
      }
    }
  }

  private static String firstLine(String message) {
    return String.valueOf(message).lines().findFirst().orElse("");
  }
}
