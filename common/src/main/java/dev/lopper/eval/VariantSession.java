package dev.lopper.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.InvalidInputException;
import dev.lopper.data.Batch;
import dev.lopper.model.WeightTensor;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One ONNX Runtime session of an {@link Evaluator}: the dense model or a variant, on the whole
 * model ({@link Evaluator#dense}, {@link Evaluator#variant}) or on the suffix of a cut
 * ({@link PreparedCut#variant}). Thread-safe for {@link #logits}; close it when done (it closes its
 * replacement tensors, never the evaluator's shared dense ones).
 *
 * <pre>{@code
 * try (VariantSession pruned = evaluator.variant(Map.of("fc1.weight", prunedWeight))) {
 *   Logits logits = pruned.logits(batch);
 * }
 * }</pre>
 */
public final class VariantSession implements AutoCloseable {
  private final Evaluator evaluator;
  private final OrtSession session;
  private final OrtSession.SessionOptions sessionOptions;
  private final List<OnnxTensor> owned;
  private final Map<String, WeightTensor> replacements; // keeps replacement buffers alive
  private final PreparedCut cut; // null: the whole model, fed batches
  private final Set<String> requested;
  private boolean sessionClosed;

  VariantSession(Evaluator evaluator, OrtSession session, OrtSession.SessionOptions sessionOptions,
      List<OnnxTensor> owned, Map<String, WeightTensor> replacements, PreparedCut cut) {
    this.evaluator = evaluator;
    this.session = session;
    this.sessionOptions = sessionOptions;
    this.owned = owned;
    this.replacements = replacements;
    this.cut = cut;
    this.requested = Set.of(evaluator.outputName());
  }

  /** The weights this session uses instead of the dense ones (empty for the dense model). */
  public Map<String, WeightTensor> replacements() {
    return replacements;
  }

  /**
   * The model's first output for the batch: the batch's inputs are fed, in place, as the model's
   * inputs ({@link Evaluator#feed}).
   *
   * @throws InvalidInputException when the batch's inputs do not fit the model's, or the output is
   *     not a float tensor [rows, classes] or [rows, positions, values]
   * @throws IllegalStateException when this is a suffix session (made by {@link PreparedCut#variant})
   */
  public Logits logits(Batch batch) {
    if (cut != null) {
      throw new IllegalStateException("this session evaluates the suffix of " + cut.graph()
          + "; feed it the cut's activations, not a batch");
    }
    Map<String, OnnxTensor> feed = evaluator.feed(batch);
    try {
      return run(feed, batch.rows(), batch.toString());
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * The model's first output for the rows whose cut values are {@code activations}; only for
   * sessions made by {@link PreparedCut#variant}, with activations of the same cut.
   *
   * @throws IllegalArgumentException when the activations are of another cut, or this session
   *     evaluates the whole model
   */
  public Logits logits(CutActivations activations) {
    if (cut == null || activations.cut() != cut) {
      throw new IllegalArgumentException("activations of " + activations.cut() + " fed to a"
          + " session of " + (cut == null ? "the whole model" : cut));
    }
    return run(activations.values(), activations.rows(), "the activations of " + cut.graph());
  }

  /** The model's first output for {@code inputs}, a batch of {@code rows} rows described as {@code what}. */
  Logits run(Map<String, ? extends OnnxTensorLike> inputs, long rows, String what) {
    try (OrtSession.Result result = session.run(inputs, requested)) {
      return evaluator.toLogits(result.get(0), rows, what);
    } catch (OrtException e) {
      throw new IllegalStateException(evaluator.model().source().onnxPath()
          + ": ONNX Runtime failed on " + what + ": " + e.getMessage(), e);
    }
  }

  /** Closes the session and its replacement tensors. Idempotent. */
  @Override
  public synchronized void close() {
    if (sessionClosed) {
      return;
    }
    sessionClosed = true;
    evaluator.closed(this);
    try {
      OrtRuntime.close(session, sessionOptions);
    } finally {
      owned.forEach(OnnxTensor::close);
    }
  }
}
