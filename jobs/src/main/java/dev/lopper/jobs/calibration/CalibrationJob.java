package dev.lopper.jobs.calibration;

import dev.lopper.calibration.CapturedValue;
import dev.lopper.calibration.ChunkStatistics;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.calibration.GramOptions;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.calibration.TreeSum;
import dev.lopper.data.Batch;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.eval.GraphSegments;
import dev.lopper.eval.HeldValue;
import dev.lopper.jobs.data.PartitionData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * One calibration pass on Spark: the {@link InputStatistics} of every named tensor's consumer input
 * over the first {@link CalibrationSpec#rows()} rows of the data, with some weights optionally
 * replaced (the groups already pruned in sequential calibration).
 *
 * <p>Reproducible merge: the rows are cut into chunks of {@link CalibrationSpec#chunkRows()} by
 * their global index (file order), whatever partitions they were decoded in. A chunk whose rows span
 * two partitions is put back together by a small shuffle of those rows (token ids or feature rows,
 * not activations), so that every chunk's statistics come from one task, computed in one order.
 * Tasks hold contiguous ranges of chunks and sum them along a binary tree fixed by the chunk indices
 * ({@link TreeSum}); the driver completes the same tree. The statistics are therefore bitwise the
 * same for any number of partitions, tasks or executors, and whichever task finishes first
 * (Spark's own {@code reduce} adds in completion order, which floating point does not forgive).
 */
public final class CalibrationJob {
  private static final Logger LOG = LoggerFactory.getLogger(CalibrationJob.class);

  private CalibrationJob() {}

  /** A chunk's rows from one data partition, starting at global row {@code start}. */
  private record Piece(long start, PartitionData rows) implements Serializable {}

  /** A chunk's rows, put back together from its pieces. */
  private record Chunk(int index, PartitionData rows) {}

  /** What one task sends back: the canonical nodes of its chunk range. */
  private record TaskNodes(List<TreeSum.Node<ChunkStatistics>> nodes) implements Serializable {}

  /**
   * One task's frontier values in sequential calibration ({@link GraphSegments}): for each of its
   * chunks, in order, the values of each of the chunk's batches, by name.
   */
  private record Frontier(List<Integer> chunks, List<List<Map<String, HeldValue>>> values) implements Serializable {
    /** The values of batch {@code b} of chunk {@code chunk}, at position {@code i} of the task. */
    Map<String, HeldValue> of(int i, int chunk, int b) {
      if (chunks.get(i) != chunk) {
        throw new IllegalStateException("frontier values of chunk " + chunks.get(i) + " where chunk " + chunk
            + " was expected");
      }
      return values.get(i).get(b);
    }
  }

  /**
   * Gathers the statistics of {@code spec}'s tensors on {@code data}.
   *
   * @param model the driver's copy of the model, to name each tensor's consumer input
   * @param replacements weights the pass uses instead of the dense ones, in broadcasts the caller
   *     owns; they must not name one tensor twice
   */
  public static CalibrationStatistics run(SparkSession spark, OnnxModel model, ValidationData data,
      CalibrationSpec spec, Broadcast<SerializableConfiguration> conf, List<Broadcast<Replacements>> replacements) {
    JavaPairRDD<Integer, Iterable<Piece>> chunks = chunks(data, spec);
    ValidationData.Spec dataSpec = data.spec();
    List<Broadcast<Replacements>> pruned = List.copyOf(replacements);
    return pass(spark, model, spec, replacements, () -> chunks.mapPartitions(it -> {
      List<Chunk> mine = chunks(it);
      if (mine.isEmpty()) {
        return Collections.emptyIterator();
      }
      ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.value().get(), spec.threads());
      ConsumerInputs inputs = ConsumerInputs.of(loaded.model(), spec.tensors());
      try (ActivationCapture capture = new ActivationCapture(loaded.evaluator(), inputs.values(),
          Replacements.merged(pruned))) {
        return statistics(spec, dataSpec, mine, inputs, capture, null);
      }
    }));
  }

  /**
   * Sequential calibration's passes with each chunk's frontier values held between them ({@link
   * GraphSegments}): step {@code g} computes, from step {@code g - 1}'s frontier, only the part of
   * the model between the two frontiers (with the groups pruned so far in place) and then group
   * {@code g}'s consumer inputs, so that the model is evaluated about twice in all instead of once
   * up to each group. The frontier values are persisted by Spark (memory, then disk) until the next
   * step has its own; a lost executor's are recomputed from the lineage of earlier steps, whose
   * broadcasts the caller keeps until it closes the chain. Statistics, chunks and merge order are
   * those of {@link #run}.
   */
  public static final class Chain implements AutoCloseable {
    private final SparkSession spark;
    private final OnnxModel model;
    private final ValidationData data;
    private final Broadcast<SerializableConfiguration> conf;
    private final List<List<PrunableTensor>> groups;
    private JavaPairRDD<Integer, Iterable<Piece>> chunks;
    private JavaRDD<Frontier> frontier;
    private int step;

    /**
     * The chain over {@code groups} (the tensors of each group, in the order they are pruned) on
     * {@code data}.
     */
    public Chain(SparkSession spark, OnnxModel model, ValidationData data, Broadcast<SerializableConfiguration> conf,
        List<List<PrunableTensor>> groups) {
      this.spark = spark;
      this.model = model;
      this.data = data;
      this.conf = conf;
      this.groups = groups.stream().map(List::copyOf).toList();
      GraphSegments segments = segments(model, this.groups);
      LOG.info("Sequential calibration of {} groups from held values: {}", groups.size(), segments);
    }

    /**
     * The statistics of the next group, whose tensors {@code spec} names, with {@code replacements}
     * (every earlier group's pruned weights) in place.
     *
     * @throws IllegalArgumentException when {@code spec} names other tensors than the next group's
     */
    public CalibrationStatistics next(CalibrationSpec spec, List<Broadcast<Replacements>> replacements) {
      int g = step;
      JavaRDD<Frontier> previous = frontier;
      JavaRDD<Frontier> held = advance(spec, replacements);
      List<List<PrunableTensor>> all = groups;
      ValidationData.Spec dataSpec = data.spec();
      Broadcast<SerializableConfiguration> hadoop = conf;
      List<Broadcast<Replacements>> pruned = List.copyOf(replacements);
      CalibrationStatistics statistics = pass(spark, model, spec, replacements, () -> held == null
          ? chunks.mapPartitions(c -> capture(spec, dataSpec, hadoop.value(), all, g, pruned, null, c))
          : held.zipPartitions(chunks, (f, c) -> capture(spec, dataSpec, hadoop.value(), all, g, pruned, f, c)));
      finish(previous, held);
      return statistics;
    }

    /**
     * Passes over the next group, whose statistics the caller has already (from a checkpoint of an
     * interrupted run): only the frontier values are carried forward, as {@link #next} computes them,
     * so that later steps start from the same values.
     *
     * @throws IllegalArgumentException when {@code spec} names other tensors than the next group's
     */
    public void skip(CalibrationSpec spec, List<Broadcast<Replacements>> replacements) {
      JavaRDD<Frontier> previous = frontier;
      JavaRDD<Frontier> held = advance(spec, replacements);
      if (held != null) {
        // Materialised now, as next's capture would, before the previous values are released.
        held.count();
      }
      finish(previous, held);
    }

    /** Step {@code step}'s frontier values from the previous step's (null at step 0), persisted. */
    private JavaRDD<Frontier> advance(CalibrationSpec spec, List<Broadcast<Replacements>> replacements) {
      if (step >= groups.size() || !spec.tensors().equals(groups.get(step))) {
        throw new IllegalArgumentException("step " + step + " of sequential calibration calibrates "
            + (step < groups.size() ? groups.get(step) : "nothing") + ", not " + spec.tensors());
      }
      if (chunks == null) {
        chunks = chunks(data, spec).persist(StorageLevel.MEMORY_AND_DISK());
      }
      int g = step;
      List<List<PrunableTensor>> all = groups;
      ValidationData.Spec dataSpec = data.spec();
      Broadcast<SerializableConfiguration> hadoop = conf;
      List<Broadcast<Replacements>> pruned = List.copyOf(replacements);
      JavaRDD<Frontier> previous = frontier;
      JavaRDD<Frontier> current = null;
      if (g > 0) {
        current = previous == null
            ? chunks.mapPartitions(c -> advance(spec, dataSpec, hadoop.value(), all, g, pruned, null, c))
            : previous.zipPartitions(chunks, (f, c) -> advance(spec, dataSpec, hadoop.value(), all, g, pruned, f, c));
        current.setName("frontier values of sequential calibration step " + g).persist(StorageLevel.MEMORY_AND_DISK());
      }
      return current;
    }

    /** Releases the previous step's values and moves to the next step. */
    private void finish(JavaRDD<Frontier> previous, JavaRDD<Frontier> current) {
      if (previous != null) {
        previous.unpersist(false);
      }
      frontier = current;
      step++;
    }

    /** Releases the held values and the chunks. */
    @Override
    public void close() {
      if (frontier != null) {
        frontier.unpersist(false);
        frontier = null;
      }
      if (chunks != null) {
        chunks.unpersist(false);
        chunks = null;
      }
    }

    private static GraphSegments segments(OnnxModel model, List<List<PrunableTensor>> groups) {
      List<List<String>> weights = new ArrayList<>();
      List<Set<String>> targets = new ArrayList<>();
      for (List<PrunableTensor> group : groups) {
        weights.add(group.stream().map(PrunableTensor::name).toList());
        targets.add(ConsumerInputs.of(model, group).values());
      }
      return GraphSegments.of(model, weights, targets);
    }

    /**
     * What a task of a step starts from: its chunks, the frontier values the previous step left for
     * them (null when there are none), the executor's model and the segments; null when the task has
     * no chunks.
     */
    private record TaskStart(List<Chunk> chunks, Frontier frontier, ExecutorModels.Loaded loaded,
        GraphSegments segments) {

      static TaskStart of(CalibrationSpec spec, SerializableConfiguration conf, List<List<PrunableTensor>> groups,
          Iterator<Frontier> frontiers, Iterator<Tuple2<Integer, Iterable<Piece>>> it) {
        List<Chunk> chunks = CalibrationJob.chunks(it);
        if (chunks.isEmpty()) {
          return null;
        }
        ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.get(), spec.threads());
        return new TaskStart(chunks, frontiers == null ? null : frontiers.next(), loaded,
            Chain.segments(loaded.model(), groups));
      }

      /** The values held for the first batch of the first chunk, whose types the step's part takes. */
      Map<String, HeldValue> first() {
        return frontier == null ? Map.of() : frontier.of(0, chunks.get(0).index(), 0);
      }
    }

    /** A task of step {@code g}: its chunks' frontier values, from step {@code g - 1}'s ({@code null} at step 1). */
    private static Iterator<Frontier> advance(CalibrationSpec spec, ValidationData.Spec dataSpec,
        SerializableConfiguration conf, List<List<PrunableTensor>> groups, int g, List<Broadcast<Replacements>> pruned,
        Iterator<Frontier> previous, Iterator<Tuple2<Integer, Iterable<Piece>>> it) {
      TaskStart start = TaskStart.of(spec, conf, groups, previous, it);
      if (start == null) {
        return Collections.emptyIterator();
      }
      List<Chunk> mine = start.chunks();
      Frontier from = start.frontier();
      GraphSegments segments = start.segments();
      List<String> frontier = segments.frontier(g);
      List<Integer> indices = new ArrayList<>();
      List<List<Map<String, HeldValue>>> values = new ArrayList<>();
      try (ActivationCapture step = ActivationCapture.segment(start.loaded().evaluator(), segments.advanced(g),
              segments.advance(g, start.first()), Replacements.merged(pruned));
          BufferAllocator allocator = ExecutorModels.taskAllocator("calibration step " + g)) {
        for (int i = 0; i < mine.size(); i++) {
          Chunk chunk = mine.get(i);
          List<Map<String, HeldValue>> perBatch = new ArrayList<>();
          List<Batch> batches = chunk.rows().batches(dataSpec, spec.chunkRows(), allocator);
          try {
            for (int b = 0; b < batches.size(); b++) {
              Map<String, HeldValue> before = from == null ? Map.of() : from.of(i, chunk.index(), b);
              Map<String, HeldValue> computed = step.compute(batches.get(b), before);
              Map<String, HeldValue> after = new LinkedHashMap<>();
              for (String v : frontier) {
                HeldValue value = computed.containsKey(v) ? computed.get(v) : before.get(v);
                if (value == null) {
                  throw new IllegalStateException("frontier value " + v + " of step " + g + " was not computed");
                }
                after.put(v, value);
              }
              perBatch.add(after);
            }
          } finally {
            batches.forEach(Batch::close);
          }
          indices.add(chunk.index());
          values.add(perBatch);
        }
      }
      return List.of(new Frontier(indices, values)).iterator();
    }

    /** A task of step {@code g}: its chunks' statistics of group {@code g}, from the frontier values. */
    private static Iterator<TaskNodes> capture(CalibrationSpec spec, ValidationData.Spec dataSpec,
        SerializableConfiguration conf, List<List<PrunableTensor>> groups, int g, List<Broadcast<Replacements>> pruned,
        Iterator<Frontier> held, Iterator<Tuple2<Integer, Iterable<Piece>>> it) {
      TaskStart start = TaskStart.of(spec, conf, groups, held, it);
      if (start == null) {
        return Collections.emptyIterator();
      }
      ConsumerInputs inputs = ConsumerInputs.of(start.loaded().model(), spec.tensors());
      try (ActivationCapture capture = ActivationCapture.segment(start.loaded().evaluator(), inputs.values(),
          start.segments().capture(g, start.first()), Replacements.merged(pruned))) {
        return statistics(spec, dataSpec, start.chunks(), inputs, capture, start.frontier());
      }
    }
  }

  /** The rows' chunks, each put together in one task, in contiguous ranges of chunks per task. */
  private static JavaPairRDD<Integer, Iterable<Piece>> chunks(ValidationData data, CalibrationSpec spec) {
    int[] perPartition = data.rowsPerPartition();
    long[] offsets = new long[perPartition.length];
    for (int p = 1; p < offsets.length; p++) {
      offsets[p] = offsets[p - 1] + perPartition[p - 1];
    }
    long rows = spec.rows();
    int chunkRows = spec.chunkRows();
    JavaPairRDD<Integer, Piece> pieces = data.partitions().flatMapToPair(p -> {
      List<Tuple2<Integer, Piece>> out = new ArrayList<>();
      long start = offsets[p.partition()];
      long end = Math.min(start + p.rows(), rows);
      for (long c = start / chunkRows; c * chunkRows < end; c++) {
        long from = Math.max(c * chunkRows, start);
        long to = Math.min((c + 1) * chunkRows, end);
        if (from < to) {
          out.add(new Tuple2<>((int) c, new Piece(from, p.slice((int) (from - start), (int) (to - start)))));
        }
      }
      return out.iterator();
    });
    return pieces.groupByKey(new ChunkRanges(spec));
  }

  /** One pass: runs the tasks {@code nodes} makes and completes the merge tree on the driver. */
  private static CalibrationStatistics pass(SparkSession spark, OnnxModel model, CalibrationSpec spec,
      List<Broadcast<Replacements>> replacements, java.util.function.Supplier<JavaRDD<TaskNodes>> nodes) {
    long started = System.nanoTime();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    // Checked on the driver: an unsupported consumer (a grouped Conv) is bad input before any task.
    ConsumerInputs inputs = ConsumerInputs.of(model, spec.tensors());
    String description = "calibration: " + spec.tensors().size() + " tensors (" + inputs.inputs().size()
        + " inputs" + (spec.gram() ? ", Gram matrices" : "") + ") on " + spec.rows() + " rows ("
        + spec.chunks() + " chunks of " + spec.chunkRows() + " in " + spec.tasks() + " tasks)"
        + (replacements.isEmpty() ? "" : ", " + replaced(replacements) + " tensors already pruned");
    jsc.setJobGroup("lopper-calibration", description, true);
    LOG.info("Starting {}", description);
    try {
      JavaRDD<TaskNodes> rdd = nodes.get();
      rdd.setName("calibration of " + spec.tensors().size() + " tensors");
      List<TreeSum.Node<ChunkStatistics>> all = new ArrayList<>();
      rdd.collect().forEach(t -> all.addAll(t.nodes()));
      ChunkStatistics total = TreeSum.merge(all, spec.chunks(), ChunkStatistics::plus);
      LOG.info("Finished calibration of {} tensors in {} ms", spec.tensors().size(),
          (System.nanoTime() - started) / 1_000_000);
      return new CalibrationStatistics(inputs.byTensor(total));
    } finally {
      jsc.clearJobGroup();
    }
  }

  private static int replaced(List<Broadcast<Replacements>> replacements) {
    return replacements.stream().mapToInt(b -> b.value().size()).sum();
  }

  /** A task's chunks, each put together from its pieces in row order, in chunk order. */
  private static List<Chunk> chunks(Iterator<Tuple2<Integer, Iterable<Piece>>> it) {
    List<Chunk> chunks = new ArrayList<>();
    while (it.hasNext()) {
      Tuple2<Integer, Iterable<Piece>> next = it.next();
      List<Piece> pieces = new ArrayList<>();
      next._2().forEach(pieces::add);
      pieces.sort(Comparator.comparingLong(Piece::start));
      PartitionData rows = pieces.get(0).rows();
      for (int i = 1; i < pieces.size(); i++) {
        rows = rows.append(pieces.get(i).rows(), rows.partition());
      }
      chunks.add(new Chunk(next._1(), rows));
    }
    chunks.sort(Comparator.comparingInt(Chunk::index));
    return chunks;
  }

  /**
   * A task's statistics: each chunk's, from the values {@code capture} gives for its batches (with
   * the chunk's frontier values when {@code frontier} is not null), summed along the tree.
   */
  private static Iterator<TaskNodes> statistics(CalibrationSpec spec, ValidationData.Spec dataSpec, List<Chunk> chunks,
      ConsumerInputs inputs, ActivationCapture capture, Frontier frontier) {
    GramOptions gram = spec.gram() ? new GramOptions(GramOptions.Engine.AUTO, spec.threads()) : GramOptions.none();
    TreeSum<ChunkStatistics> sum = new TreeSum<>(ChunkStatistics::plus);
    try (BufferAllocator allocator = ExecutorModels.taskAllocator("calibration chunk " + chunks.get(0).index())) {
      for (int i = 0; i < chunks.size(); i++) {
        Chunk chunk = chunks.get(i);
        // One batch per chunk where the rows allow (same rows, same batch: the same bits); rows
        // of different lengths without an attention mask make one batch per length, in row order.
        ChunkStatistics chunkStats = null;
        List<Batch> batches = chunk.rows().batches(dataSpec, spec.chunkRows(), allocator);
        try {
          for (int b = 0; b < batches.size(); b++) {
            Batch batch = batches.get(b);
            Map<String, CapturedValue> captured = frontier == null ? capture.run(batch)
                : capture.run(batch, frontier.of(i, chunk.index(), b));
            ChunkStatistics s = ChunkStatistics.compute(batch, captured, inputs.inputs(), gram);
            chunkStats = chunkStats == null ? s : chunkStats.plus(s);
          }
        } finally {
          batches.forEach(Batch::close);
        }
        sum.add(chunk.index(), chunkStats);
      }
    }
    return List.of(new TaskNodes(sum.nodes())).iterator();
  }

  /** Chunks to tasks in contiguous ranges, as {@link CalibrationSpec#taskOf} says. */
  private static final class ChunkRanges extends Partitioner {
    @Serial private static final long serialVersionUID = 1L;
    private final CalibrationSpec spec;

    ChunkRanges(CalibrationSpec spec) {
      this.spec = spec;
    }

    @Override
    public int numPartitions() {
      return spec.tasks();
    }

    @Override
    public int getPartition(Object key) {
      return spec.taskOf((Integer) key);
    }

    /** Equal when they place chunks alike, whichever tensors the specs name. */
    @Override
    public boolean equals(Object o) {
      return o instanceof ChunkRanges c && c.spec.tasks() == spec.tasks() && c.spec.chunks() == spec.chunks();
    }

    @Override
    public int hashCode() {
      return 31 * spec.tasks() + spec.chunks();
    }
  }
}
