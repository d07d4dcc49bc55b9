package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.text.MiniLm;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Activation-aware pruning of the real all-MiniLM-L6-v2 on 48 sentences Lopper tokenizes itself:
 * padded batches with an attention mask (padding never enters the statistics), 36 anonymous
 * weights stored pre-transposed {@code [in, out]}. A 2:4 Wanda run holds the pattern along each
 * output's inputs, which for this layout run down the stored tensor's columns; SparseGPT's
 * reconstruction keeps the pooled output closer to the dense model's than masking by magnitude at the
 * same 50%.
 */
class MiniLmCalibratedTest {
  private static final Configuration CONF = new Configuration();
  @TempDir static Path dir;
  private static Path onnx;
  private static String tokens;

  @BeforeAll
  static void tokenize() throws Exception {
    onnx = MiniLm.writeOnnx(dir);
    Path tokenizer = MiniLm.write(dir);
    Table sentences = ParquetTables.read(SampleData.path("sentences.parquet"), CONF);
    Table.Builder few = Table.builder();
    sentences.columns().forEach(c -> few.column(c.name(), c.type()));
    sentences.rows().subList(0, 48).forEach(r -> few.row(r.toArray()));
    String text = dir.resolve("sentences.parquet").toString();
    ParquetTables.write(few.build(), text, CONF);
    tokens = dir.resolve("tokens.parquet").toString();
    RunLopper tokenize = RunLopper.run("tokenize", "--tokenizer", tokenizer.toString(), "--text", text, "--out", tokens);
    assertEquals(ExitCode.SUCCESS, tokenize.exit(), tokenize.stderr());
  }

  private static double prune(Path out, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("prune", "--model", onnx.toString(), "--data", tokens, "--metric",
        "cosine", "--set", "allocation.policy=uniform", "--target", "0.5", "--set", "data.batch-size=16",
        "--set", "gate.max-drop=null", "--out", out.toString()));
    args.addAll(List.of(more));
    RunLopper run = RunLopper.run(args.toArray(String[]::new));
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Table verification = ParquetTables.read(out.resolve("verification.parquet").toString(), CONF);
    return (Double) verification.rows().get(1).get(verification.indexOf("cosine"));
  }

  @Test
  void wandaTwoFourHoldsThePatternAlongEachOutputsInputs() throws Exception {
    Path out = dir.resolve("wanda-2of4");
    double cosine = prune(out, "--criterion", "wanda", "--set", "sweep.pattern=2:4");
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    assertEquals(36, masks.size());
    for (Mask m : masks.masks()) {
      long[] shape = m.shape(); // [in, out]: output o's inputs are column o, rows i
      int in = (int) shape[0];
      int outs = (int) shape[1];
      for (int o = 0; o < outs; o++) {
        for (int g = 0; g < in; g += 4) {
          int pruned = 0;
          for (int i = g; i < g + 4; i++) {
            pruned += m.isPruned(i * outs + o) ? 1 : 0;
          }
          assertEquals(2, pruned, m.name() + " output " + o + " inputs " + g + ".." + (g + 3));
        }
      }
    }
    assertTrue(cosine > 0 && cosine < 1, "cosine " + cosine);
  }

  @Test
  void sparseGptKeepsTheOutputCloserThanMagnitude() throws Exception {
    double sparsegpt = prune(dir.resolve("sparsegpt"), "--criterion", "sparsegpt");
    double magnitude = prune(dir.resolve("magnitude"), "--criterion", "magnitude");
    System.out.println("MiniLM at 50%, pooled cosine to dense: sparsegpt " + sparsegpt + ", magnitude " + magnitude);
    assertTrue(sparsegpt > magnitude, "sparsegpt " + sparsegpt + " against magnitude " + magnitude);
  }
}
