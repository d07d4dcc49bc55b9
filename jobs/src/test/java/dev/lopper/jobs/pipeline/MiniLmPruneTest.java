package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lopper.data.Batch;
import dev.lopper.data.BatchInput;
import dev.lopper.data.SequenceBatchBuilder;
import dev.lopper.eval.Evaluator;
import dev.lopper.eval.Logits;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.eval.VariantSession;
import dev.lopper.fixtures.OnnxCheck;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.text.MiniLm;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real all-MiniLM-L6-v2 (from the langchain4j jar) on sentences Lopper tokenizes itself
 * ({@code bin/lopper tokenize} on data/sentences.parquet): {@code prune --metric cosine} at target
 * 0.5 sweeps all 36 Linear weights, writes masks and a pruned ONNX that passes onnx.checker, reloads
 * in ONNX Runtime with the outputs of the masked evaluation, and whose verified cosine is the one
 * computed here independently, row by row without padding. By default a short version (48
 * sentences, three sparsities); {@code -Dlopper.minilm.full=true} runs the full sweep (all 230
 * sentences, the nine-point grid), as docs/benchmarks.md says.
 */
class MiniLmPruneTest {
  private static final Configuration CONF = new Configuration();
  /** The full sweep, or the short one of the default suite. */
  private static final boolean FULL = Boolean.getBoolean("lopper.minilm.full");
  private static final int SENTENCES = FULL ? Integer.MAX_VALUE : 48;
  private static final String GRID = FULL ? "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]" : "[0.3, 0.6, 0.9]";
  @TempDir Path dir;

  @Test
  void prunesAllLinearWeightsOnTheCosineMetricAndTheFileIsTheMaskedModel() throws Exception {
    Path onnx = MiniLm.writeOnnx(dir);
    Path tokenizer = MiniLm.write(dir);
    Table sentences = ParquetTables.read(SampleData.path("sentences.parquet"), CONF);
    Table.Builder few = Table.builder();
    sentences.columns().forEach(c -> few.column(c.name(), c.type()));
    sentences.rows().subList(0, Math.min(SENTENCES, sentences.rows().size())).forEach(r -> few.row(r.toArray()));
    String text = dir.resolve("sentences.parquet").toString();
    ParquetTables.write(few.build(), text, CONF);
    String tokens = dir.resolve("tokens.parquet").toString();
    RunLopper tokenize = RunLopper.run("tokenize", "--tokenizer", tokenizer.toString(), "--text", text, "--out", tokens);
    assertEquals(ExitCode.SUCCESS, tokenize.exit(), tokenize.stderr());

    Path out = dir.resolve("out");
    RunLopper run = RunLopper.run("prune", "--model", onnx.toString(), "--data", tokens, "--metric", "cosine",
        "--target", "0.5", "--set", "sweep.sparsities=" + GRID, "--set", "data.batch-size=16",
        "--set", "gate.max-drop=null", "--out", out.toString());
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    System.out.println("MiniLM prune, " + ids(tokens) + " rows, grid " + GRID + ": " + (run.stdout() + run.stderr()).lines()
        .filter(l -> l.contains("finished")).findFirst().orElse(""));

    Table sensitivity = ParquetTables.read(out.resolve("sensitivity.parquet").toString(), CONF);
    Set<String> swept = new HashSet<>();
    int tensor = sensitivity.indexOf("tensor");
    int cosine = sensitivity.indexOf("cosine");
    for (List<Object> row : sensitivity.rows()) {
      swept.add((String) row.get(tensor));
      assertTrue((Double) row.get(cosine) <= 1 + 1e-9 && (Double) row.get(cosine) > 0, row.toString());
    }
    assertEquals(36 + 1, swept.size(), "every Linear weight and the dense row: " + swept);
    assertEquals(1.0, (Double) sensitivity.rows().get(0).get(cosine), 1e-9, "the dense model against itself");
    assertTrue(java.nio.file.Files.readString(out.resolve("report.html")).contains("cosine against sparsity"),
        "the report plots cosine");

    String pruned = out.resolve("model/pruned.onnx").toString();
    if (OnnxCheck.available()) {
      OnnxCheck.Verdict verdict = OnnxCheck.run(pruned);
      assertTrue(verdict.valid(), verdict.line());
    }
    List<long[]> ids = column(tokens, "input_ids");
    List<long[]> masksOfRows = column(tokens, "attention_mask");
    List<long[]> types = column(tokens, "token_type_ids");

    // The pruned file in ONNX Runtime, row by row (no padding): pooled cosine to the dense model's.
    OrtEnvironment env = OrtRuntime.environment();
    double cosineSum = 0;
    try (OrtSession dense = env.createSession(onnx.toString(), new OrtSession.SessionOptions());
        OrtSession file = env.createSession(pruned, new OrtSession.SessionOptions())) {
      for (int r = 0; r < ids.size(); r++) {
        float[][] d = run(env, dense, ids.get(r), masksOfRows.get(r), types.get(r));
        float[][] p = run(env, file, ids.get(r), masksOfRows.get(r), types.get(r));
        cosineSum += pooledCosine(d, p);
      }
    }
    Table verification = ParquetTables.read(out.resolve("verification.parquet").toString(), CONF);
    double verified = (Double) verification.rows().get(1).get(verification.indexOf("cosine"));
    assertEquals(cosineSum / ids.size(), verified, 1e-6, "verified cosine (padded batches) against row by row");
    assertTrue(verified < 1, "pruning half the weights changes the output");

    // masks.safetensors applied to the dense weights computes what the file computes.
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    OnnxModel model = OnnxModel.load(ModelSource.onnx(onnx.toString()), CONF);
    OnnxModel file = OnnxModel.load(ModelSource.onnx(pruned), CONF);
    assertEquals(36, masks.names().size());
    try (BufferAllocator allocator = new RootAllocator();
        Evaluator masked = new Evaluator(model);
        Evaluator reloaded = new Evaluator(file);
        VariantSession m = masked.variant(masks.apply(model.weights()));
        VariantSession f = reloaded.dense();
        Batch batch = batch(ids, masksOfRows, types, allocator)) {
      Logits lm = m.logits(batch);
      Logits lf = f.logits(batch);
      for (int i = 0; i < lm.values().length; i++) {
        assertEquals(lm.values()[i], lf.values()[i], 1e-5, "output value " + i);
      }
    }
  }

  private static int ids(String tokens) {
    return ParquetTables.read(tokens, CONF).rows().size();
  }

  private static List<long[]> column(String path, String name) {
    Table table = ParquetTables.read(path, CONF);
    List<long[]> out = new ArrayList<>();
    table.rows().forEach(r -> out.add((long[]) r.get(table.indexOf(name))));
    return out;
  }

  /** One row's last hidden state, [positions][384]. */
  private static float[][] run(OrtEnvironment env, OrtSession session, long[] ids, long[] mask, long[] types)
      throws Exception {
    long[] shape = {1, ids.length};
    try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
        OnnxTensor b = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
        OnnxTensor c = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
        OrtSession.Result result = session.run(Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
      return ((float[][][]) result.get(0).getValue())[0];
    }
  }

  /** Cosine of the two outputs' means over the positions (every position is a token here). */
  private static double pooledCosine(float[][] a, float[][] b) {
    int width = a[0].length;
    double[] x = new double[width];
    double[] y = new double[width];
    for (int t = 0; t < a.length; t++) {
      for (int c = 0; c < width; c++) {
        x[c] += a[t][c] / (double) a.length;
        y[c] += b[t][c] / (double) a.length;
      }
    }
    double dot = 0;
    double xx = 0;
    double yy = 0;
    for (int c = 0; c < width; c++) {
      dot += x[c] * y[c];
      xx += x[c] * x[c];
      yy += y[c] * y[c];
    }
    return dot / Math.sqrt(xx * yy);
  }

  /** Every row in one batch, padded to the longest. */
  private static Batch batch(List<long[]> ids, List<long[]> mask, List<long[]> types, BufferAllocator allocator) {
    try (SequenceBatchBuilder builder = new SequenceBatchBuilder(List.of(
        new SequenceBatchBuilder.Input("input_ids", BatchInput.ElementType.INT64),
        new SequenceBatchBuilder.Input("attention_mask", BatchInput.ElementType.INT64),
        new SequenceBatchBuilder.Input("token_type_ids", BatchInput.ElementType.INT64)),
        "input_ids", "attention_mask", ids.size(), allocator)) {
      for (int r = 0; r < ids.size(); r++) {
        builder.add(new long[][] {ids.get(r), mask.get(r), types.get(r)}, null);
      }
      return builder.build();
    }
  }
}
