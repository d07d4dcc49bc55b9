package dev.lopper.jobs.calibration;

import dev.lopper.calibration.CapturedValue;
import dev.lopper.calibration.ChunkStatistics;
import dev.lopper.calibration.ConsumerInputs;
import dev.lopper.calibration.GramOptions;
import dev.lopper.calibration.InputStatistics;
import dev.lopper.calibration.TreeSum;
import dev.lopper.data.Batch;
import dev.lopper.eval.ActivationCapture;
import dev.lopper.jobs.data.PartitionData;
import dev.lopper.jobs.data.ValidationData;
import dev.lopper.jobs.spark.ExecutorModels;
import dev.lopper.jobs.spark.SerializableConfiguration;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
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

  /** What one task sends back: the canonical nodes of its chunk range. */
  private record TaskNodes(List<TreeSum.Node<ChunkStatistics>> nodes) implements Serializable {}

  /**
   * Gathers the statistics of {@code spec}'s tensors on {@code data}.
   *
   * @param model the driver's copy of the model, to name each tensor's consumer input
   * @param replacements weights the pass uses instead of the dense ones, in broadcasts the caller
   *     owns (sequential calibration broadcasts each group's pruned weights once, for all later
   *     passes); they must not name one tensor twice
   */
  public static CalibrationStatistics run(SparkSession spark, OnnxModel model, ValidationData data,
      CalibrationSpec spec, Broadcast<SerializableConfiguration> conf, List<Broadcast<Replacements>> replacements) {
    long started = System.nanoTime();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    // Checked on the driver: an unsupported consumer (a grouped Conv) is bad input before any task.
    ConsumerInputs inputs = ConsumerInputs.of(model, spec.tensors());
    int[] perPartition = data.rowsPerPartition();
    long[] offsets = new long[perPartition.length];
    for (int p = 1; p < offsets.length; p++) {
      offsets[p] = offsets[p - 1] + perPartition[p - 1];
    }
    int chunks = spec.chunks();
    String description = "calibration: " + spec.tensors().size() + " tensors (" + inputs.inputs().size()
        + " inputs" + (spec.gram() ? ", Gram matrices" : "") + ") on " + spec.rows() + " rows ("
        + chunks + " chunks of " + spec.chunkRows() + " in " + spec.tasks() + " tasks)"
        + (replacements.isEmpty() ? "" : ", " + replaced(replacements) + " tensors already pruned");
    jsc.setJobGroup("lopper-calibration", description, true);
    LOG.info("Starting {}", description);
    List<Broadcast<Replacements>> pruned = List.copyOf(replacements);
    try {
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
      ValidationData.Spec dataSpec = data.spec();
      JavaRDD<TaskNodes> nodes = pieces.groupByKey(new ChunkRanges(spec))
          .mapPartitions(it -> calibrate(spec, dataSpec, conf.value(), Replacements.merged(pruned), it));
      nodes.setName("calibration of " + spec.tensors().size() + " tensors");
      List<TreeSum.Node<ChunkStatistics>> all = new ArrayList<>();
      nodes.collect().forEach(t -> all.addAll(t.nodes()));
      ChunkStatistics total = TreeSum.merge(all, chunks, ChunkStatistics::plus);
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

  private static java.util.Iterator<TaskNodes> calibrate(CalibrationSpec spec, ValidationData.Spec dataSpec,
      SerializableConfiguration conf, Map<String, WeightTensor> replacements,
      java.util.Iterator<Tuple2<Integer, Iterable<Piece>>> it) {
    List<Tuple2<Integer, List<Piece>>> chunks = new ArrayList<>();
    while (it.hasNext()) {
      Tuple2<Integer, Iterable<Piece>> next = it.next();
      List<Piece> pieces = new ArrayList<>();
      next._2().forEach(pieces::add);
      pieces.sort(Comparator.comparingLong(Piece::start));
      chunks.add(new Tuple2<>(next._1(), pieces));
    }
    if (chunks.isEmpty()) {
      return java.util.Collections.emptyIterator();
    }
    chunks.sort(Comparator.comparingInt(Tuple2::_1));
    ExecutorModels.Loaded loaded = ExecutorModels.get(spec.model(), spec.checksum(), conf.get(), spec.threads());
    ConsumerInputs inputs = ConsumerInputs.of(loaded.model(), spec.tensors());
    GramOptions gram = spec.gram() ? new GramOptions(GramOptions.Engine.AUTO, spec.threads()) : GramOptions.none();
    TreeSum<ChunkStatistics> sum = new TreeSum<>(ChunkStatistics::plus);
    try (BufferAllocator allocator = ExecutorModels.taskAllocator("calibration chunk " + chunks.get(0)._1());
        ActivationCapture capture = new ActivationCapture(loaded.evaluator(), inputs.values(), replacements)) {
      for (Tuple2<Integer, List<Piece>> chunk : chunks) {
        PartitionData rows = chunk._2().get(0).rows();
        for (int i = 1; i < chunk._2().size(); i++) {
          rows = rows.append(chunk._2().get(i).rows(), rows.partition());
        }
        // One batch per chunk where the rows allow (same rows, same batch: the same bits); rows
        // of different lengths without an attention mask make one batch per length, in row order.
        ChunkStatistics chunkStats = null;
        List<Batch> batches = rows.batches(dataSpec, spec.chunkRows(), allocator);
        try {
          for (Batch batch : batches) {
            Map<String, CapturedValue> captured = capture.run(batch);
            ChunkStatistics s = ChunkStatistics.compute(batch, captured, inputs.inputs(), gram);
            chunkStats = chunkStats == null ? s : chunkStats.plus(s);
          }
        } finally {
          batches.forEach(Batch::close);
        }
        sum.add(chunk._1(), chunkStats);
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

    @Override
    public boolean equals(Object o) {
      return o instanceof ChunkRanges c && c.spec.equals(spec);
    }

    @Override
    public int hashCode() {
      return spec.hashCode();
    }
  }
}
