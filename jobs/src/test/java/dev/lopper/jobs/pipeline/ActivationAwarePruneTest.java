package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.ReferenceCsv;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Safetensors;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.mask.Mask;
import dev.lopper.mask.MaskSet;
import dev.lopper.model.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code bin/lopper prune} with {@code sweep.criterion} wanda and sparsegpt, unstructured 50%, 2:4
 * and 4:8, calibrated sequentially and not, against data/make_pruning_references.py: the same
 * calibration rows run through PyTorch with forward hooks, pruned by the ports of locuslab/wanda's
 * prune_wanda and IST-DASLab/sparsegpt's fasterprune (data/pruning_reference.py). Wanda's masks must
 * equal the reference's (differences could only come from scores tied within the float32 noise
 * between ONNX Runtime's and PyTorch's activations; they are counted and reported, and at most
 * {@value #MAX_FLIPS} per run are tolerated), SparseGPT's updated weights within 1e-4 of the
 * reference's relative to the tensor's largest weight, and the pruned model's verified perplexity
 * (accuracy for the digits) within 1e-3 relative of the reference model's.
 * Every variant of the references runs, on all three sample models (36 runs), and on the sample LM
 * also with {@code calibration.sequential=cut} (Wanda 50%, SparseGPT 50% and 2:4: each block's
 * attention and its MLP calibrated as groups of their own), 39 runs in about 60 s.
 */
class ActivationAwarePruneTest {
  private static final Configuration CONF = new Configuration();
  private static final int MAX_FLIPS = 2;
  @TempDir Path dir;

  static Stream<Arguments> variants() {
    List<Arguments> all = new ArrayList<>();
    for (String model : List.of("tiny-lm", "digits-mlp", "digits-cnn")) {
      for (String method : List.of("wanda", "sparsegpt")) {
        for (String pattern : List.of("50", "2of4", "4of8")) {
          for (String mode : List.of("seq", "dense")) {
            all.add(Arguments.of(model, method + "-" + pattern + "-" + mode));
          }
        }
      }
    }
    // calibration.sequential=cut on the sample LM: each block's attention and MLP as groups of their own.
    for (String variant : List.of("wanda-50-cut", "sparsegpt-50-cut", "sparsegpt-2of4-cut")) {
      all.add(Arguments.of("tiny-lm", variant));
    }
    return all.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("variants")
  void prunesAsTheReferenceImplementations(String model, String variant) throws Exception {
    String[] parts = variant.split("-");
    Path out = dir.resolve(model + "-" + variant);
    String sequential = switch (parts[2]) {
      case "seq" -> "true";
      case "dense" -> "false";
      default -> parts[2];
    };
    RunLopper run = RunLopper.run(args(model, parts[0], parts[1], sequential, out, 0));
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    assertLikeTheReference(model, variant, out);
    if (!parts[1].equals("50")) {
      String pattern = parts[1].replace("of", ":");
      assertTrue(Files.readString(out.resolve("manifest.json")).contains("\"pattern\" : \"" + pattern + "\""),
          "the manifest's results name the pattern");
      assertTrue(Files.readString(out.resolve("report.html")).contains("pruned by " + parts[0] + ", pattern "
          + pattern), "the report names the criterion and the pattern");
    }
  }

  /**
   * Policy owl at 70% with Wanda, sequential: each calibration group's sparsity equals OWL's
   * (prune_wanda_outlier's outlier ratios and mapping, on PyTorch's statistics) and the pruned model
   * the reference's.
   */
  @org.junit.jupiter.api.Test
  void owlGivesTheReferenceSparsitiesPerGroup() throws Exception {
    Path out = dir.resolve("owl");
    List<String> args = new ArrayList<>(List.of(args("tiny-lm", "wanda", "50", "true", out, 0)));
    args.addAll(List.of("--set", "allocation.policy=owl", "--set", "allocation.target=0.7"));
    RunLopper run = RunLopper.run(args.toArray(String[]::new));
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Table allocation = ParquetTables.read(out.resolve("allocation.parquet").toString(), CONF);
    Map<String, Double> sparsity = new java.util.HashMap<>();
    for (List<Object> row : allocation.rows()) {
      sparsity.put((String) row.get(allocation.indexOf("tensor")), (Double) row.get(allocation.indexOf("sparsity")));
    }
    List<Map<String, String>> expected = ReferenceCsv.read("pruning-tiny-lm-owl.csv");
    assertEquals(expected.size(), sparsity.size());
    for (Map<String, String> row : expected) {
      assertEquals(Double.parseDouble(row.get("sparsity")), sparsity.get(row.get("tensor")), 1e-12, row.get("tensor"));
    }
    assertLikeTheReference("tiny-lm", "owl-wanda-70-seq", out);
  }

  /** The run in {@code out} pruned as the reference's {@code variant} of {@code model}. */
  private static void assertLikeTheReference(String model, String variant, Path out) throws Exception {

    Safetensors.File reference = Safetensors.open(SampleData.path("reference/pruning-" + model + ".safetensors"),
        CONF);
    MaskSet masks = MaskSet.readSafetensors(out.resolve("masks.safetensors").toString(), CONF);
    Safetensors.File pruned = Safetensors.open(out.resolve("model/pruned.safetensors").toString(), CONF);
    int flips = 0;
    int tensors = 0;
    StringBuilder where = new StringBuilder();
    for (Map.Entry<String, Safetensors.Entry> e : reference.entries().entrySet()) {
      if (!e.getKey().startsWith(variant + "/")) {
        continue;
      }
      tensors++;
      String tensor = e.getKey().substring(variant.length() + 1);
      Mask mask = masks.get(tensor).orElseThrow(() -> new AssertionError("no mask for " + tensor));
      int before = flips;
      WeightTensor weights = pruned.readFloat(tensor);
      if (e.getValue().dtype().equals("BOOL")) {
        Mask expected = Mask.fromBoolBytes(tensor, e.getValue().shape(), reference.readBytes(e.getValue()));
        assertArrayEquals(expected.shape(), mask.shape(), tensor);
        java.util.BitSet differ = (java.util.BitSet) expected.pruned().clone();
        differ.xor(mask.pruned());
        flips += differ.cardinality();
      } else {
        WeightTensor expected = reference.readFloat(e.getKey());
        float[] want = expected.toArray();
        float[] got = weights.toArray();
        float scale = 0;
        for (float v : want) {
          scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < want.length; i++) {
          if (mask.isPruned(i)) {
            assertEquals(0f, got[i], tensor + " element " + i + " is masked");
          }
          // Zero in the reference: pruned, or an input channel no calibration sample reaches (a ReLU
          // that never fires), whose column SparseGPT zeroes without pruning it.
          if ((want[i] == 0f) != (got[i] == 0f)) {
            flips++;
            continue;
          }
          assertEquals(want[i], got[i], 1e-4 * scale, tensor + " element " + i);
        }
      }
      if (flips > before) {
        where.append(' ').append(tensor).append(": ").append(flips - before);
      }
    }
    assertTrue(tensors > 0, "the reference has tensors of " + variant);
    System.out.println(model + " " + variant + ": " + flips + " pruned positions differ from the reference's" + where);
    assertTrue(flips <= MAX_FLIPS, flips + " pruned positions differ from the reference's:" + where);

    String metric = model.equals("tiny-lm") ? "perplexity" : "accuracy";
    double expected = ReferenceCsv.read("pruning-" + model + ".csv").stream()
        .filter(r -> r.get("variant").equals(variant)).map(r -> Double.parseDouble(r.get(metric)))
        .findFirst().orElseThrow();
    Table verification = ParquetTables.read(out.resolve("verification.parquet").toString(), CONF);
    double verified = (Double) verification.rows().get(1).get(verification.indexOf(metric));
    assertEquals(expected, verified, 1e-3 * expected, metric + " of the pruned model");
    assertTrue(Files.exists(out.resolve("calibration/statistics.safetensors")));
  }

  /** The command line of one variant; {@code sequential} is calibration.sequential's value. */
  static String[] args(String model, String method, String pattern, String sequential, Path out, int partitions) {
    boolean lm = model.equals("tiny-lm");
    List<String> args = new ArrayList<>(List.of("prune", "--model", SampleData.path(model + ".onnx"), "--data",
        SampleData.path(lm ? "tiny-lm-val.parquet" : "digits-val.parquet"), "--metric",
        lm ? "perplexity" : "accuracy", "--out", out.toString(),
        "--set", "sweep.criterion=" + method, "--set", "allocation.policy=uniform", "--set", "allocation.target=0.5",
        "--set", "sweep.pattern=" + (pattern.equals("50") ? "unstructured" : pattern.replace("of", ":")),
        "--set", "calibration.rows=32", "--set", "data.batch-size=8",
        "--set", "calibration.sequential=" + sequential, "--set", "gate.max-drop=null",
        "--set", "data.partitions=" + partitions));
    if (model.equals("digits-cnn") && !pattern.equals("50")) {
      args.addAll(List.of("--set", "model.exclude=[conv1.weight]")); // 9 inputs per output: no N:M fits
    }
    return args.toArray(String[]::new);
  }
}
