package dev.lopper.jobs.data;

import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import java.io.Serializable;
import java.util.List;

/**
 * How token sequences are read for a model of token inputs: which column feeds each model input,
 * which input is the attention mask and which holds the token ids, and where targets come from.
 *
 * @param inputs one per model input, in the model's order
 * @param mask the attention mask input, or null when the model has none (then rows of different
 *     lengths are never batched together)
 * @param tokens the input holding token ids, shifted by one into targets when {@code targets} is
 *     null
 * @param targets the target column, or null
 * @param length the model inputs' fixed number of positions, or 0 when it is symbolic
 * @param predicts whether the rows are scored on target tokens (a language model's metrics), so
 *     that data without any target is refused
 */
public record SequenceSpec(List<Column> inputs, String mask, String tokens, String targets, int length,
    boolean predicts)
    implements Serializable {

  /**
   * One model input and its column.
   *
   * @param input the model input's name
   * @param column the column that feeds it
   * @param type the model input's element type
   * @param vocabulary rows of the embedding table the input indexes (its ids must lie below), or
   *     -1
   */
  public record Column(String input, String column, BatchInput.ElementType type, long vocabulary)
      implements Serializable {}

  public SequenceSpec {
    inputs = List.copyOf(inputs);
  }

  /** The builder's view of the inputs. */
  public List<SequenceBatchBuilder.Input> builderInputs() {
    return inputs.stream().map(c -> new SequenceBatchBuilder.Input(c.input(), c.type())).toList();
  }

  /** The column feeding the tokens input. */
  public Column tokensColumn() {
    return inputs.stream().filter(c -> c.input().equals(tokens)).findFirst().orElseThrow();
  }
}
