package dev.lopper.structure;

import dev.lopper.calibration.InputStatistics;
import dev.lopper.criteria.ChannelCriterion;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.SampleData;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.metrics.Metrics;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;

/**
 * Accuracy of the digits CNN pruned to fixed channel counts by each channel criterion, with and
 * without bias compensation; not a test, a hand-run comparison that holds the allocation fixed so
 * that only the choice of channels and the compensation differ (a pipeline run's latency-aware
 * allocation moves with the machine's load). Calibration: all 360 validation rows, on which the
 * accuracy is measured too (as a run with the default {@code calibration.*} on the sample data);
 * with a fourth argument R (120 or 240), the first R rows calibrate and the other rows measure.
 * Run with the class path in CLASSPATH, as docs/benchmarks.md shows, and
 * {@code --add-opens=java.base/java.nio=ALL-UNNAMED} for Arrow:
 * {@code java dev.lopper.structure.CompensationComparison 4 16 15 [120]} (kept channels of conv1,
 * conv2, fc1).
 */
public final class CompensationComparison {
  private CompensationComparison() {}

  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), conf);
    ModelStructure structure = ModelStructure.analyse(model);
    long[] row = {1, 8, 8};
    int calibrationRows = args.length > 3 ? Integer.parseInt(args[3]) : 360;
    Map<String, InputStatistics> statistics = ChannelActivationReferenceTest.statistics(model, row, calibrationRows);
    BiasCompensation compensation = BiasCompensation.of(model, structure.groups());
    List<ChannelGroup> groups = structure.prunableGroups();
    Path dir = Files.createTempDirectory("compensation");
    System.out.println("| criterion | compensation | kept channels | accuracy | loss |");
    System.out.println("| --- | --- | --- | --- | --- |");
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Batch> all = ValidationSet.batches(row, 120, allocator);
      List<Batch> batches = calibrationRows == 360 ? all : all.subList(calibrationRows / 120, all.size());
      System.out.println("calibration rows 0.." + (calibrationRows - 1) + ", measured on "
          + batches.stream().mapToLong(Batch::rows).sum() + " rows");
      try {
        try (Evaluator dense = new Evaluator(model)) {
          Metrics m = new TensorSweep(dense, batches, 10).baseline().metrics();
          System.out.printf("| dense | | | %.4f | %.4f |%n", m.accuracy(), m.loss());
        }
        for (ChannelCriterion c : List.of(ChannelCriterion.l1(), ChannelCriterion.l2(), ChannelCriterion.fluctuation(),
            ChannelCriterion.wandaSp())) {
          Map<Integer, Double> sparsities = new LinkedHashMap<>();
          StringBuilder kept = new StringBuilder();
          for (int g = 0; g < groups.size(); g++) {
            long channels = groups.get(g).channels();
            long keep = Long.parseLong(args[g]);
            sparsities.put(groups.get(g).id(), (channels - keep) / (double) channels);
          }
          ChannelSelection selection = c.withStatistics(statistics).selection(structure.groups(), sparsities,
              model.weights());
          for (ChannelGroup g : groups) {
            kept.append(kept.length() == 0 ? "" : "; ").append(g.name().replace(".weight", "")).append(' ')
                .append(java.util.Arrays.toString(selection.kept(g.id()).orElseThrow()));
          }
          for (boolean on : new boolean[] {false, true}) {
            Map<String, WeightTensor> biases = on
                ? compensation.biases(structure.groups(), selection, model.weights(), statistics) : Map.of();
            Path file = dir.resolve(c.name() + "-" + on + ".onnx");
            BiasCompensation.shrink(structure, selection, biases).writeOnnx(file.toString(), conf);
            try (Evaluator small = new Evaluator(OnnxModel.load(ModelSource.onnx(file.toString()), conf))) {
              Metrics m = new TensorSweep(small, batches, 10).baseline().metrics();
              System.out.printf("| `%s` | %s | %s | %.4f | %.4f |%n", c.name(), on ? "on" : "off", kept, m.accuracy(),
                  m.loss());
            }
          }
        }
      } finally {
        all.forEach(Batch::close);
      }
    }
  }
}
