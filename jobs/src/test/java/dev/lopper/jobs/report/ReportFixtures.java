package dev.lopper.jobs.report;

import dev.lopper.io.Table;
import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.config.DecisionMetric;
import dev.lopper.jobs.output.GateVerdict;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunResults;
import dev.lopper.jobs.output.StageTimings;
import dev.lopper.jobs.sweep.SensitivityRow;
import dev.lopper.jobs.verify.VerificationRow;
import dev.lopper.mask.MaskSummaryRow;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Small hand-made runs for the report's tests: tables and manifests with known numbers. */
final class ReportFixtures {

  /** A tensor name that would break a page that does not escape: markup, quotes and an ampersand. */
  static final String HOSTILE = "<script>alert('x')</script>&\"conv\"";

  private ReportFixtures() {}

  /** A sensitivity table of two tensors on the grid {0.5, 0.9}, accuracy and loss, baseline 0.9. */
  static List<SensitivityRow> sensitivity(double shift) {
    Table.Builder t = Table.builder()
        .column("tensor", Table.Type.STRING).column("op", Table.Type.STRING)
        .column("parameters", Table.Type.LONG).column("criterion", Table.Type.STRING)
        .column("sparsity", Table.Type.DOUBLE).column("pruned", Table.Type.LONG)
        .column("accuracy", Table.Type.DOUBLE).column("loss", Table.Type.DOUBLE)
        .column("samples", Table.Type.LONG);
    t.row("(dense)", "", 0L, "magnitude", 0.0, 0L, 0.9, 0.3, 100L);
    t.row(HOSTILE, "Conv", 72L, "magnitude", 0.5, 36L, 0.88 + shift, 0.35, 100L);
    t.row(HOSTILE, "Conv", 72L, "magnitude", 0.9, 65L, 0.41 + shift, 1.9, 100L);
    t.row("fc.weight", "Gemm", 1000L, "magnitude", 0.5, 500L, 0.9, 0.31, 100L);
    t.row("fc.weight", "Gemm", 1000L, "magnitude", 0.9, 900L, 0.87 - shift, 0.5, 100L);
    return SensitivityRow.SCHEMA.rows(t.build());
  }

  static List<TensorAllocation> allocation(double fcSparsity) {
    return TensorAllocation.SCHEMA.rows(Table.builder()
        .column("tensor", Table.Type.STRING).column("parameters", Table.Type.LONG)
        .column("sparsity", Table.Type.DOUBLE).column("pruned", Table.Type.LONG)
        .column("predicted_drop", Table.Type.DOUBLE)
        .row(HOSTILE, 72L, 0.25, 18L, 0.01)
        .row("fc.weight", 1000L, fcSparsity, Math.round(fcSparsity * 1000), 0.005)
        .build());
  }

  static List<MaskSummaryRow> masks() {
    return MaskSummaryRow.SCHEMA.rows(Table.builder()
        .column("tensor", Table.Type.STRING).column("shape", Table.Type.LONG_LIST)
        .column("parameters", Table.Type.LONG).column("kept", Table.Type.LONG)
        .column("pruned", Table.Type.LONG).column("density", Table.Type.DOUBLE)
        .row(HOSTILE, new long[] {8, 1, 3, 3}, 72L, 54L, 18L, 0.75)
        .row("fc.weight", new long[] {10, 100}, 1000L, 200L, 800L, 0.2)
        .build());
  }

  static List<VerificationRow> verification() {
    return VerificationRow.SCHEMA.rows(Table.builder()
        .column("model", Table.Type.STRING).column("accuracy", Table.Type.DOUBLE).column("loss", Table.Type.DOUBLE)
        .column("samples", Table.Type.LONG).column("predicted_drop", Table.Type.DOUBLE)
        .column("measured_drop", Table.Type.DOUBLE)
        .row("dense", 0.9, 0.3, 100L, 0.0, 0.0)
        .row("pruned", 0.89, 0.33, 100L, 0.015, 0.01)
        .build());
  }

  static RunTables pruneTables(double shift, double fcSparsity) {
    return new RunTables(sensitivity(shift), allocation(fcSparsity), masks(), verification());
  }

  /** The name {@link #anonymous} gives {@code fc.weight}, as {@code torch.onnx.export} names values of its own. */
  static final String ANONYMOUS = "onnx::Gemm_7";

  /** The readable name {@link #anonymous} gives {@link #ANONYMOUS}: the node that multiplies by it. */
  static final String NODE = "/fc/Gemm";

  /** {@code tables} with {@code fc.weight} renamed {@link #ANONYMOUS}, its readable name {@link #NODE}. */
  static RunTables anonymous(RunTables tables) {
    return new RunTables(
        tables.sensitivity().stream().map(r -> !r.tensor().equals("fc.weight") ? r
            : new SensitivityRow(ANONYMOUS, NODE, r.op(), r.parameters(), r.criterion(), r.sparsity(), r.pruned(),
                r.channels(), r.prunedChannels(), r.metrics(), r.delta(), r.samples())).toList(),
        tables.allocation().stream().map(r -> !r.tensor().equals("fc.weight") ? r
            : new TensorAllocation(ANONYMOUS, NODE, r.parameters(), r.sparsity(), r.pruned(), r.predictedDrop()))
            .toList(),
        tables.masks().stream().map(r -> !r.tensor().equals("fc.weight") ? r
            : new MaskSummaryRow(ANONYMOUS, NODE, r.shape(), r.parameters(), r.kept(), r.pruned(), r.density()))
            .toList(),
        tables.verification());
  }

  /** The configuration map as a manifest records it. */
  static Map<String, Object> configuration(double target) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("model", Map.of("onnx", "m.onnx"));
    c.put("sweep", Map.of("criterion", "magnitude", "sparsities", List.of(0.5, 0.9)));
    c.put("metric", "accuracy");
    Map<String, Object> allocation = new LinkedHashMap<>();
    allocation.put("policy", "target");
    allocation.put("target", target);
    allocation.put("tolerance", 0.01);
    c.put("allocation", allocation);
    c.put("gate", Map.of("max-drop", 0.02));
    c.put("output", Map.of("dir", "runs/nightly", "name-by-date", true));
    return c;
  }

  static Manifest.Builder prune(String runId, double target, double pruned, String weightsSha) {
    Map<String, Object> results = RunResults.toMap(List.of(new RunResults.Data(100, 2, 2, null),
        new RunResults.Masks("target", target, "parameters", null, 0.8, 818, 1072),
        new RunResults.Verified("accuracy", 0.015, 0.9 - pruned,
            new RunResults.Metrics(0.9, null, 0.3, null, null, null, null, 100),
            new RunResults.Metrics(pruned, null, 0.33, null, null, null, null, 100))));
    StageTimings timings = new StageTimings();
    timings.record("sweep", 1234);
    timings.record("verification", 99);
    return Manifest.builder(runId, "prune")
        .commandLine(List.of("prune", "--config", "conf/x.yaml"))
        .output("runs/nightly/" + runId)
        .configuration(configuration(target))
        .input(new InputFile("model", "m.onnx", 10, "aa".repeat(32)))
        .input(new InputFile("weights", "w.safetensors", 20, weightsSha))
        .versions(Map.of("lopper", "test"))
        .sparkApplicationId("local-1")
        .timings(timings)
        .gate(GateVerdict.judge(DecisionMetric.ACCURACY, 0.9, pruned, 0.02))
        .results(results);
  }
}
