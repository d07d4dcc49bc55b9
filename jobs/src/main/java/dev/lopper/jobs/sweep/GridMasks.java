package dev.lopper.jobs.sweep;

import dev.lopper.criteria.CriterionContext;
import dev.lopper.criteria.PruningCriterion;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A sweep's grid masks, chosen once per executor JVM and shared by the units that sweep the same
 * item on other slices of the data: the masks depend on the weights, the criterion and the grid,
 * not on the rows. Selecting the grid of a 67 M-weight tensor takes about 1.5 s; the 805 MB MLP's
 * sweep in four slices chose each grid four times over (docs/benchmarks.md, "Large models").
 *
 * <p>Held within {@link #BUDGET_BYTES} per JVM (a bit per weight and grid point; an item whose
 * masks do not fit is chosen again by each unit, as before), for one sweep at a time: a unit of
 * another sweep empties the cache, and {@link #clear} empties it when the sweep ends in this JVM.
 * Two units that need an item at once wait for one selection.
 */
final class GridMasks {
  /** Most bytes of masks held per JVM: 256 MiB. */
  static final long BUDGET_BYTES = 256L << 20;

  private static final Map<Key, CompletableFuture<List<MaskSet>>> CACHE = new ConcurrentHashMap<>();
  private static final AtomicLong HELD = new AtomicLong();
  private static String current = "";

  private record Key(String sweep, List<String> item) {}

  private GridMasks() {}

  /**
   * {@code criterion} choosing each item's grid once per JVM for the sweep identified by {@code
   * sweep} (everything its masks depend on besides the weights, which the JVM's resident model
   * fixes).
   */
  static PruningCriterion sharing(PruningCriterion criterion, String sweep) {
    return sharing(criterion, sweep, BUDGET_BYTES);
  }

  /** Like {@link #sharing(PruningCriterion, String)} within {@code budget} bytes (for tests). */
  static PruningCriterion sharing(PruningCriterion criterion, String sweep, long budget) {
    synchronized (GridMasks.class) {
      if (!current.equals(sweep)) {
        CACHE.clear();
        HELD.set(0);
        current = sweep;
      }
    }
    return new PruningCriterion() {
      @Override
      public String name() {
        return criterion.name();
      }

      @Override
      public MaskSet select(List<WeightTensor> tensors, double sparsity, CriterionContext context) {
        return criterion.select(tensors, sparsity, context);
      }

      @Override
      public List<MaskSet> selectGrid(List<WeightTensor> tensors, double[] sparsities,
          CriterionContext context) {
        long bytes = 0;
        for (WeightTensor t : tensors) {
          bytes += ((long) t.size() + 7) / 8 * sparsities.length;
        }
        Key key = new Key(sweep, tensors.stream().map(WeightTensor::name).toList());
        CompletableFuture<List<MaskSet>> mine = new CompletableFuture<>();
        CompletableFuture<List<MaskSet>> held = CACHE.get(key);
        if (held == null) {
          if (HELD.addAndGet(bytes) > budget) {
            HELD.addAndGet(-bytes);
            return criterion.selectGrid(tensors, sparsities, context);
          }
          held = CACHE.putIfAbsent(key, mine);
          if (held != null) {
            HELD.addAndGet(-bytes);
          }
        }
        if (held != null) {
          return held.join();
        }
        try {
          List<MaskSet> masks = criterion.selectGrid(tensors, sparsities, context);
          mine.complete(masks);
          return masks;
        } catch (RuntimeException | Error e) {
          CACHE.remove(key, mine);
          HELD.addAndGet(-bytes);
          mine.completeExceptionally(e);
          throw e;
        }
      }

      @Override
      public String toString() {
        return criterion.toString();
      }
    };
  }

  /** Empties the cache: the sweep has ended in this JVM. */
  static void clear() {
    synchronized (GridMasks.class) {
      CACHE.clear();
      HELD.set(0);
      current = "";
    }
  }

  /** Bytes of masks held (for tests). */
  static long heldBytes() {
    return HELD.get();
  }
}
