package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.cli.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample MLP with one Linear weight under a name {@code torch.onnx.export} makes up ({@code
 * onnx::Gemm_12} for {@code fc2.weight}), through the real command line: every table that names the
 * tensor has a {@code node} column right after {@code tensor}, filled for that tensor only, and the
 * report shows the node beside it; the sample's own names get no such column.
 */
class ReadableNamesEndToEndTest {
  private static final String ANONYMOUS = "onnx::Gemm_12";
  private static final String NODE = "/fc2/Gemm";

  @TempDir Path dir;

  /** digits-mlp.onnx with {@code fc2.weight} renamed {@value #ANONYMOUS}, in its initializer and its Gemm's input. */
  private Path anonymousMlp() throws IOException {
    Onnx.ModelProto.Builder model = Onnx.ModelProto.parseFrom(Files.readAllBytes(Path.of(SampleData.path(
        "digits-mlp.onnx")))).toBuilder();
    Onnx.GraphProto.Builder graph = model.getGraphBuilder();
    for (Onnx.TensorProto.Builder init : graph.getInitializerBuilderList()) {
      if (init.getName().equals("fc2.weight")) {
        init.setName(ANONYMOUS);
      }
    }
    int uses = 0;
    for (Onnx.NodeProto.Builder node : graph.getNodeBuilderList()) {
      for (int i = 0; i < node.getInputCount(); i++) {
        if (node.getInput(i).equals("fc2.weight")) {
          assertEquals(NODE, node.getName());
          node.setInput(i, ANONYMOUS);
          uses++;
        }
      }
    }
    assertEquals(1, uses);
    Path file = dir.resolve("anonymous-mlp.onnx");
    Files.write(file, model.build().toByteArray());
    return file;
  }

  private RunLopper prune(Path model, String out, String... settings) {
    List<String> args = new ArrayList<>(List.of("prune", "--quiet", "--model", model.toString(),
        "--data", SampleData.path("digits-val.parquet"), "--set", "data.input-shape=[64]",
        "--set", "sweep.sparsities=[0.5, 0.9]", "--set", "allocation.target=0.5", "--set", "gate.max-drop=1.0",
        "--out", dir.resolve(out).toString()));
    for (String s : settings) {
      args.add("--set");
      args.add(s);
    }
    RunLopper run = RunLopper.run(args.toArray(String[]::new));
    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    return run;
  }

  /** Per table, tensor to its node column's value ("" for an empty cell); null when the table has no node column. */
  private Map<String, String> nodes(String out, String table) {
    Table t = ParquetTables.read(dir.resolve(out).resolve(table + ".parquet").toString(), new Configuration());
    List<String> columns = t.columns().stream().map(Table.Column::name).toList();
    assertEquals("tensor", columns.get(0), table);
    if (!columns.contains("node")) {
      return null;
    }
    assertEquals("node", columns.get(1), table + ": right after tensor");
    Map<String, String> nodes = new TreeMap<>();
    t.rows().forEach(r -> nodes.put((String) r.get(0), r.get(1) == null ? "" : (String) r.get(1)));
    return nodes;
  }

  private String csvHeader(String out, String table) throws IOException {
    return Files.readAllLines(dir.resolve(out).resolve(table + ".csv")).get(0);
  }

  @Test
  void everyTableNamingAnAnonymousTensorShowsItsNode() throws IOException {
    prune(anonymousMlp(), "anonymous");
    Map<String, String> expected = new TreeMap<>(Map.of("fc1.weight", "", ANONYMOUS, NODE, "fc3.weight", ""));
    for (String table : List.of("allocation", "masks")) {
      assertEquals(expected, nodes("anonymous", table), table);
    }
    Map<String, String> sensitivity = new TreeMap<>(expected);
    sensitivity.put("(dense)", "");
    assertEquals(sensitivity, nodes("anonymous", "sensitivity"));
    assertTrue(csvHeader("anonymous", "sensitivity").startsWith("tensor,node,op,"),
        csvHeader("anonymous", "sensitivity"));
    String html = Files.readString(dir.resolve("anonymous").resolve("report.html"));
    assertEquals(3, html.split(java.util.regex.Pattern.quote(ANONYMOUS + "<br/><span class=\"muted\">" + NODE
        + "</span>"), -1).length - 1, "in the sensitivity, allocation and density tables");

    prune(Path.of(SampleData.path("digits-mlp.onnx")), "named");
    for (String table : List.of("sensitivity", "allocation", "masks")) {
      assertEquals(null, nodes("named", table), table + ": names of their own, no column");
    }
    assertTrue(csvHeader("named", "sensitivity").startsWith("tensor,op,"));
    assertFalse(Files.readString(dir.resolve("named").resolve("report.html")).contains("<span class=\"muted\">/fc"));
  }

  @Test
  void aStructuredRunNamesTheGroupMembersItMasks() throws IOException {
    prune(anonymousMlp(), "channels", "sweep.criterion=channel-l2", "allocation.target=0.3");
    Map<String, String> structure = nodes("channels", "structure");
    assertEquals(NODE, structure.get(ANONYMOUS), String.valueOf(structure));
    assertEquals("", structure.get("fc1.weight"));
    Map<String, String> masks = nodes("channels", "masks");
    assertEquals(NODE, masks.get(ANONYMOUS), String.valueOf(masks));
    assertEquals("", masks.get("fc1.bias"));
    assertEquals(null, nodes("channels", "sensitivity"), "a structured sweep's items are channel groups");
  }
}
