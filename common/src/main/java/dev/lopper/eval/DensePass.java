package dev.lopper.eval;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.lopper.data.Batch;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import onnx.Onnx;

/**
 * The whole dense model with some inner values as extra outputs ({@link Evaluator#densePass}):
 * one run per batch gives the logits and the activations of several cuts at once, which a
 * {@link PreparedCut} made with their types then reads instead of running a prefix. Values whose
 * shape is known apart from the batch dimension are written by ONNX Runtime straight into direct
 * buffers of ours (pinned outputs); others are copied there. Either way the garbage collector
 * frees them.
 */
final class DensePass implements AutoCloseable {
  private final Evaluator evaluator;
  private final OrtSession session;
  private final OrtSession.SessionOptions sessionOptions;
  private final Map<String, Onnx.TypeProto> types;
  private final Map<String, TensorInfo> infos = new HashMap<>();
  private final boolean fed;

  /** One batch's dense logits and held activations. */
  record Result(Logits logits, Map<String, Activation> values) {}

  /**
   * A dense pass yielding {@code values}; {@code fed}: with every float weight read in place as a
   * graph input rather than copied into the session as an external initializer (which ONNX Runtime
   * copies: the model's size again per session), for a model whose outputs that does not change
   * ({@link Evaluator#fedModelReproduces}).
   */
  DensePass(Evaluator evaluator, Collection<String> values, boolean fed) {
    this.evaluator = evaluator;
    this.fed = fed;
    sessionOptions = new OrtSession.SessionOptions();
    try {
      Onnx.ModelProto graph = GraphCut.withOutputs(evaluator.model(), values);
      if (fed) {
        graph = GraphCut.feeding(graph, evaluator.denseTensors().keySet(), "the dense model");
        session = evaluator.createSession(graph.toByteArray(), new HashMap<>(), sessionOptions);
      } else {
        session = evaluator.createSession(graph.toByteArray(), new HashMap<>(evaluator.denseTensors()),
            sessionOptions);
      }
    } catch (RuntimeException e) {
      sessionOptions.close();
      throw e;
    }
    try {
      Map<String, Onnx.TypeProto> all = Evaluator.typesOf(session);
      all.keySet().retainAll(values);
      types = Map.copyOf(all);
      for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
        if (types.containsKey(e.getKey())) {
          infos.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
        }
      }
    } catch (OrtException | RuntimeException e) {
      close();
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }
  }

  /** ONNX Runtime's types of the extra outputs. */
  Map<String, Onnx.TypeProto> types() {
    return types;
  }

  /** The batch's logits, and the values named in {@code keep} held in direct buffers. */
  Result run(Batch batch, Set<String> keep) {
    Map<String, OnnxTensor> feed = evaluator.feed(batch);
    try {
      return run(feed, batch.rows(), batch.toString(), keep);
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * Like {@link #run(Batch, Set)} for {@code feed}, tensors of the model's inputs with {@code rows}
   * rows described as {@code what} (the evaluator's probe batch); the caller closes them.
   */
  Result run(Map<String, OnnxTensor> feed, int rows, String what, Set<String> keep) {
    String outputName = evaluator.outputName();
    Map<String, Activation> held = new HashMap<>();
    Map<String, OnnxValue> pinned = new HashMap<>();
    Set<String> requested = new HashSet<>();
    requested.add(outputName);
    try {
      for (String v : keep) {
        TensorInfo info = infos.get(v);
        long[] shape = info.getShape();
        boolean pinnable = shape.length > 0 && shape[0] < 0;
        for (int i = 1; i < shape.length; i++) {
          pinnable &= shape[i] >= 0;
        }
        if (pinnable) {
          shape[0] = evaluator.fedRows(rows); // a single row is fed twice (Evaluator#feed)
          Activation a = Activation.allocate(shape, info.type);
          held.put(v, a);
          pinned.put(v, a.wrap(evaluator.env()));
        } else {
          requested.add(v);
        }
      }
      Map<String, OnnxTensor> inputs = feed;
      if (fed) {
        inputs = new HashMap<>(feed);
        inputs.putAll(evaluator.denseTensors());
      }
      try (OrtSession.Result result =
          session.run(inputs, requested, pinned)) {
        Logits logits = evaluator.toLogits(result.get(outputName).orElseThrow(), rows,
            "a dense pass on " + what);
        for (String v : requested) {
          if (!v.equals(outputName)) {
            held.put(v, Activation.copyOf((OnnxTensor) result.get(v).orElseThrow()));
          }
        }
        return new Result(logits, held);
      }
    } catch (OrtException e) {
      throw new IllegalStateException(evaluator.model().source().onnxPath()
          + ": ONNX Runtime failed on " + what + ": " + e.getMessage(), e);
    } finally {
      pinned.values().forEach(OnnxValue::close);
    }
  }

  @Override
  public void close() {
    OrtRuntime.close(session, sessionOptions);
  }
}
