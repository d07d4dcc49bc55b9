package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.criteria.Criteria;
import dev.lopper.criteria.CriterionContext;
import dev.lopper.data.Batch;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.TensorSweep;
import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.ValidationSet;
import dev.lopper.io.CsvTables;
import dev.lopper.jobs.sweep.SensitivityTable;
import dev.lopper.jobs.sweep.SweepResult;
import dev.lopper.jobs.sweep.SweepSpec;
import dev.lopper.jobs.sweep.VariantTally;
import dev.lopper.metrics.MetricValues;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.model.PrunableTensor;
import dev.lopper.model.PrunableTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;

/**
 * The truths a sweep run on the cluster is compared with: the same sweep computed by the core library in
 * this JVM, in one process without Spark, written as the sensitivity CSV; and PyTorch's table from
 * data/make_samples.py.
 */
final class SweepTables {
  /** The sample models' number of classes. */
  private static final int CLASSES = 10;
  /** Batch size of the single-process sweep; a row's outputs do not depend on it (see STACK-NOTES). */
  private static final int BATCH_SIZE = 64;

  private SweepTables() {}

  /**
   * The text of {@code sensitivity.csv} for the magnitude sweep of every prunable tensor of the model over
   * {@code grid}, computed by {@link TensorSweep} on the whole validation set in this process.
   *
   * @param onnx the ONNX model (absolute path)
   * @param weights its safetensors weights (absolute path), or null
   * @param scratch a file this method may write the CSV to
   */
  static String singleProcessCsv(String onnx, String weights, long[] rowShape, double[] grid, Path scratch) {
    OnnxModel model = OnnxModel.load(new ModelSource(onnx, weights), new Configuration());
    List<PrunableTensor> tensors = PrunableTensors.find(model);
    SweepSpec spec = new SweepSpec(model.source(), model.checksum(), tensors, "magnitude", grid, BATCH_SIZE, 1, 0,
        CLASSES);
    List<VariantTally> tallies = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(rowShape, BATCH_SIZE, allocator);
      try {
        TensorSweep sweep = new TensorSweep(evaluator, batches, CLASSES);
        tallies.add(new VariantTally(VariantTally.BASELINE, 0, 0, sweep.baseline()));
        for (int t = 0; t < tensors.size(); t++) {
          var variants = sweep.sweep(model.weight(tensors.get(t).name()), Criteria.byName("magnitude"), grid,
              CriterionContext.of(tensors));
          for (int s = 0; s < variants.length; s++) {
            tallies.add(new VariantTally(t, s, 0, variants[s]));
          }
        }
      } finally {
        batches.forEach(Batch::close);
      }
    }
    try {
      Files.deleteIfExists(scratch);
      CsvTables.write(SensitivityTable.of(SweepResult.merge(spec, tallies, 1)), scratch.toString(), new Configuration());
      return Files.readString(scratch);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The metrics of a model on the whole validation set, evaluated in this process by the core library, as
   * the sensitivity table's columns name them.
   */
  static Map<String, Double> evaluate(String onnx, String weights, long[] rowShape) {
    OnnxModel model = OnnxModel.load(new ModelSource(onnx, weights), new Configuration());
    try (BufferAllocator allocator = new RootAllocator(); Evaluator evaluator = new Evaluator(model)) {
      List<Batch> batches = ValidationSet.batches(rowShape, BATCH_SIZE, allocator);
      try {
        return MetricValues.of(new TensorSweep(evaluator, batches, CLASSES).baseline().metrics()).byColumn();
      } finally {
        batches.forEach(Batch::close);
      }
    }
  }

  /**
   * Asserts that a sensitivity CSV written by Lopper has PyTorch's numbers ({@code data/reference/<reference>}):
   * for every (tensor, sparsity) and the dense baseline, the same accuracy (exactly: a count over 360
   * samples), the loss within 1e-5 and the same number of pruned weights; and no row more or less.
   */
  static void assertMatchesPyTorch(String csvText, String reference, String where) {
    Map<String, Map<String, String>> torch = new HashMap<>();
    Map<String, String> dense = null;
    for (Map<String, String> row : ReferenceCsv.read(reference)) {
      if (Double.parseDouble(row.get("sparsity")) == 0.0) {
        dense = row;
      } else {
        torch.put(row.get("tensor") + "@" + Double.parseDouble(row.get("sparsity")), row);
      }
    }
    List<Map<String, String>> rows = rows(csvText);
    assertEquals(torch.size() + 1, rows.size(), where + ": rows of sensitivity.csv against " + reference);
    for (Map<String, String> row : rows) {
      boolean baseline = row.get("tensor").equals(SensitivityTable.BASELINE);
      String key = row.get("tensor") + "@" + Double.parseDouble(row.get("sparsity"));
      Map<String, String> expected = baseline ? dense : torch.get(key);
      assertTrue(expected != null, where + ": " + key + " is not in " + reference);
      String at = where + ": " + key;
      assertEquals(Double.parseDouble(expected.get("accuracy")), Double.parseDouble(row.get("accuracy")), 0.0,
          at + " accuracy");
      assertEquals(Double.parseDouble(expected.get("loss")), Double.parseDouble(row.get("loss")), 1e-5, at + " loss");
      if (!baseline) {
        assertEquals(Long.parseLong(expected.get("pruned")), Long.parseLong(row.get("pruned")), at + " pruned");
      }
      assertEquals(expected.get("samples"), row.get("samples"), at + " samples");
    }
  }

  /**
   * Asserts that two sensitivity CSVs are the same text; on a difference the message names the first line
   * that differs.
   */
  static void assertSameTable(String expected, String actual, String where) {
    if (expected.equals(actual)) {
      return;
    }
    List<String> e = expected.lines().toList();
    List<String> a = actual.lines().toList();
    for (int i = 0; i < Math.max(e.size(), a.size()); i++) {
      String el = i < e.size() ? e.get(i) : "(no line)";
      String al = i < a.size() ? a.get(i) : "(no line)";
      if (!el.equals(al)) {
        assertEquals(el, al, where + ": sensitivity.csv differs first at line " + (i + 1));
      }
    }
    assertEquals(expected, actual, where + ": sensitivity.csv differs (line endings)");
  }

  /**
   * The rows of a sensitivity CSV as column name to text. The table's cells hold no commas (tensor names,
   * op types and numbers), so a plain split reads it; quotes around text are removed.
   */
  static List<Map<String, String>> rows(String csvText) {
    List<String> lines = csvText.lines().filter(l -> !l.isBlank()).toList();
    String[] header = lines.get(0).split(",", -1);
    List<Map<String, String>> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", -1);
      assertEquals(header.length, cells.length, "cells in line: " + line);
      Map<String, String> row = new LinkedHashMap<>();
      for (int i = 0; i < header.length; i++) {
        String cell = cells[i];
        row.put(header[i], cell.length() >= 2 && cell.startsWith("\"") && cell.endsWith("\"")
            ? cell.substring(1, cell.length() - 1) : cell);
      }
      rows.add(row);
    }
    return rows;
  }
}
