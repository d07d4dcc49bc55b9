package dev.lopper.jobs.spark;

import dev.lopper.eval.Evaluator;
import dev.lopper.eval.EvaluatorOptions;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Models resident in an executor JVM: each model is loaded once per JVM, however many tasks use
 * it, and shared by them (weights live once, in direct memory). Tasks name a model by its source
 * and the checksum the driver computed, never by capturing it in a closure; a file that changed
 * since the driver read it is an error rather than a silently different model.
 */
public final class ExecutorModels {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);
  private static final Map<Key, Loaded> MODELS = new ConcurrentHashMap<>();
  private static final AtomicInteger LOADS = new AtomicInteger();
  private static final BufferAllocator ROOT = new RootAllocator(Long.MAX_VALUE);

  private record Key(ModelSource source, String checksum, int threads) {}

  /** A loaded model and its evaluator, shared by every task of this JVM. */
  public record Loaded(OnnxModel model, Evaluator evaluator) {}

  private ExecutorModels() {}

  /** The model at {@code source}, loading it on first use in this JVM. */
  public static Loaded get(ModelSource source, String checksum, Configuration conf, int threads) {
    return MODELS.computeIfAbsent(new Key(source, checksum, threads), key -> {
      long start = System.nanoTime();
      OnnxModel model = OnnxModel.load(source, conf);
      if (!model.checksum().equals(checksum)) {
        throw new IllegalStateException(source.onnxPath() + " changed during the run: checksum "
            + model.checksum() + ", the driver read " + checksum);
      }
      Loaded loaded = resident(model, threads);
      LOADS.incrementAndGet();
      LOG.info("Loaded {} in this executor in {} ms", source.onnxPath(), (System.nanoTime() - start) / 1_000_000);
      return loaded;
    });
  }

  /**
   * Makes {@code model}, which this JVM's driver loaded and checked, the one its tasks use for
   * {@code threads} intra-op threads: in local mode the tasks run in the driver's JVM, and would
   * otherwise load a second copy of the weights (twice the model's size in memory, and a load on
   * the sweep's critical path). Does nothing when the model is already resident.
   */
  public static void share(OnnxModel model, int threads) {
    MODELS.computeIfAbsent(new Key(model.source(), model.checksum(), threads), key -> {
      LOG.info("Tasks in this JVM use the driver's copy of {}", model.source().onnxPath());
      return resident(model, threads);
    });
  }

  private static Loaded resident(OnnxModel model, int threads) {
    return new Loaded(model, new Evaluator(model, EvaluatorOptions.defaults().withIntraOpThreads(threads)));
  }

  /** How many model loads this JVM has done (one per model, however many tasks ran). */
  public static int loads() {
    return LOADS.get();
  }

  /** An allocator for one task's Arrow batches; close it when the task ends. */
  public static BufferAllocator taskAllocator(String name) {
    return ROOT.newChildAllocator(name, 0, Long.MAX_VALUE);
  }
}
