package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.Safetensors;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.report.PageElements;
import dev.lopper.model.WeightTensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 6 end to end, on real runs of the sample CNN shared by every test here: two nightly runs
 * named by date (the second with retrained weights at the same path), and a sensitivity run. Their
 * reports are rendered in headless Chromium and checked against the tables the runs wrote; the
 * notebook runs on both nights with {@code jupyter nbconvert}. Chromium and Jupyter tests are
 * skipped when the tools are missing ({@code .ci/run} installs them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReportsEndToEndTest {

  private Path tmp;

  private Path base;
  private Path weights;
  private String firstWeightsSha;
  private RunLopper first;
  private RunLopper second;
  private RunLopper sensitivity;

  private static Clock at(String instant) {
    return Clock.fixed(Instant.parse(instant), ZoneOffset.UTC);
  }

  private String[] nightly(String... more) {
    List<String> args = new ArrayList<>(List.of("prune",
        "--config", SampleData.dir().resolveSibling("conf").resolve("digits-cnn.yaml").toString(),
        "--set", "model.onnx=" + SampleData.path("digits-cnn.onnx"),
        "--set", "model.weights=" + weights,
        "--set", "data.path=" + SampleData.path("digits-val.parquet"),
        "--set", "output.name-by-date=true", "--out", base.toString()));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  @BeforeAll
  void runs(@TempDir Path dir) throws IOException {
    tmp = dir;
    base = tmp.resolve("nightly");
    weights = tmp.resolve("weights.safetensors");
    Files.copy(Path.of(SampleData.path("digits-cnn.safetensors")), weights);
    firstWeightsSha = sha256(weights);
    first = RunLopper.run(at("2026-01-01T02:00:00Z"), nightly("--quiet"));
    assertEquals(ExitCode.SUCCESS, first.exit(), first.stderr());

    retrain(weights);
    second = RunLopper.run(at("2026-01-02T02:00:00Z"), nightly("--format", "json"));
    assertEquals(ExitCode.SUCCESS, second.exit(), second.stderr());

    sensitivity = RunLopper.run("sensitivity", "--quiet",
        "--model", SampleData.path("digits-cnn.onnx"), "--weights", SampleData.path("digits-cnn.safetensors"),
        "--data", SampleData.path("digits-val.parquet"), "--set", "data.input-shape=[1, 8, 8]",
        "--set", "sweep.sparsities=[0.5, 0.9]", "--out", tmp.resolve("sensitivity").toString());
    assertEquals(ExitCode.SUCCESS, sensitivity.exit(), sensitivity.stderr());
  }

  /** "Tonight's model": conv2's weights rescaled by a ripple, written over last night's file. */
  private static void retrain(Path file) {
    Configuration conf = new Configuration();
    Safetensors.File in = Safetensors.open(file.toString(), conf);
    List<Safetensors.Payload> tensors = new ArrayList<>();
    for (String name : in.entries().keySet()) {
      float[] v = in.readFloat(name).toArray();
      if (name.equals("conv2.weight")) {
        for (int i = 0; i < v.length; i++) {
          v[i] *= (float) (1 + 0.35 * Math.sin(i));
        }
      }
      tensors.add(Safetensors.Payload.f32(WeightTensor.of(name, in.entries().get(name).shape(), v)));
    }
    Safetensors.write(file.toString(), conf, tensors, Map.of());
  }

  private static String sha256(Path file) throws IOException {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A CSV table of the run as rows of name to text, read naively (the sample's values hold no commas). */
  private static List<Map<String, String>> csv(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    String[] header = lines.get(0).split(",", -1);
    List<Map<String, String>> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", -1);
      Map<String, String> row = new LinkedHashMap<>();
      for (int i = 0; i < header.length; i++) {
        row.put(header[i], cells[i].replace("\"", ""));
      }
      rows.add(row);
    }
    return rows;
  }

  private Path night(String day) {
    return base.resolve(day);
  }

  @Test
  void secondNightRecordsAndShowsTheChangeFromTheFirst() throws IOException {
    Manifest m = Manifest.read(night("2026-01-02").resolve("manifest.json").toString(), new Configuration());
    assertEquals(night("2026-01-01").toString(), m.previousRun());
    Map<String, Object> c = m.comparison();
    List<?> inputs = (List<?>) c.get("inputs_changed");
    assertEquals(1, inputs.size(), "only the weights changed: " + inputs);
    Map<?, ?> changed = (Map<?, ?>) inputs.get(0);
    assertEquals("weights", changed.get("role"));
    assertEquals(firstWeightsSha, changed.get("previous_sha256"));
    assertEquals(sha256(weights), changed.get("sha256"));
    assertEquals(List.of(), c.get("configuration_changed"));

    // Per tensor and sparsity: tonight's accuracy minus last night's, from the two CSV tables.
    Map<String, Double> before = new LinkedHashMap<>();
    for (Map<String, String> row : csv(night("2026-01-01").resolve("sensitivity.csv"))) {
      before.put(row.get("tensor") + "@" + row.get("sparsity"), Double.parseDouble(row.get("accuracy")));
    }
    Map<String, Double> expected = new LinkedHashMap<>();
    for (Map<String, String> row : csv(night("2026-01-02").resolve("sensitivity.csv"))) {
      if (!row.get("tensor").equals("(dense)")) {
        String key = row.get("tensor") + "@" + row.get("sparsity");
        expected.put(key, Double.parseDouble(row.get("accuracy")) - before.get(key));
      }
    }
    assertTrue(expected.values().stream().anyMatch(d -> d != 0), "retraining changed some sensitivity");
    String report = Files.readString(night("2026-01-02").resolve("report.html"));
    assertTrue(report.contains("<section id=\"comparison\">"));
    assertTrue(report.contains("href=\"../2026-01-01/report.html\""));
    Map<String, Double> shown = new LinkedHashMap<>();
    String table = report.substring(report.indexOf("id=\"tensor-changes\""), report.indexOf("</table>",
        report.indexOf("id=\"tensor-changes\"")));
    String tensor = null;
    for (String part : table.split("<tr")) {
      List<Map<String, String>> tr = PageElements.elements("<tr" + part, "tr");
      if (!tr.isEmpty() && tr.get(0).containsKey("data-tensor")) {
        tensor = tr.get(0).get("data-tensor");
      }
      for (Map<String, String> cell : PageElements.elements(part, "td")) {
        if (cell.containsKey("data-change")) {
          shown.put(tensor + "@" + cell.get("data-sparsity"), Double.parseDouble(cell.get("data-change")));
        }
      }
    }
    assertEquals(expected, shown);

    Manifest firstManifest = Manifest.read(night("2026-01-01").resolve("manifest.json").toString(),
        new Configuration());
    assertEquals(null, firstManifest.previousRun(), "the first night has nothing to compare with");
    assertFalse(Files.readString(night("2026-01-01").resolve("report.html")).contains("id=\"comparison\""));
  }

  @Test
  void jsonSummaryOnStdoutAndProgressOnStderrUnlessQuiet() throws IOException {
    JsonNode json = new ObjectMapper().readTree(second.stdout());
    assertEquals("SUCCEEDED", json.get("status").asText());
    assertEquals(0, json.get("exit_code").asInt());
    assertEquals(night("2026-01-02").toString(), json.get("output").asText());
    assertEquals(night("2026-01-01").toString(), json.get("previous_run").asText());
    assertTrue(json.get("gate").get("passed").asBoolean());
    assertEquals(0.7, json.get("results").get("sparsity").asDouble(), 0.005);

    List<String> progress = second.stderr().lines().filter(l -> l.matches("lopper: \\S+ \\d+/\\d+ tasks .*")).toList();
    assertTrue(progress.stream().anyMatch(l -> l.matches("lopper: sweep (\\d+)/\\1 tasks \\(100%\\), .*")), progress.toString());
    assertTrue(progress.stream().anyMatch(l -> l.startsWith("lopper: verification ")), progress.toString());
    assertTrue(progress.stream().anyMatch(l -> l.startsWith("lopper: data ")), progress.toString());
    assertFalse(first.stderr().contains(" tasks ("), "--quiet: " + first.stderr());
    assertTrue(first.stdout().contains("lopper: prune finished in "), "--quiet keeps the final line");
  }

  @Test
  void sensitivityRunWritesAReportToo() throws IOException {
    Path dir = tmp.resolve("sensitivity");
    String html = Files.readString(dir.resolve("report.html"));
    List<Map<String, String>> points = PageElements.withClass(PageElements.svg(html, "sensitivity-chart"), "circle",
        "point");
    assertEquals(csv(dir.resolve("sensitivity.csv")).size(), points.size());
    assertFalse(html.contains("<section id=\"allocation\">"));
    Manifest m = Manifest.read(dir.resolve("manifest.json").toString(), new Configuration());
    assertTrue(m.outputs().stream().anyMatch(f -> f.path().equals("report.html")));
  }

  // ---- headless Chromium ----

  private static boolean available(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private String chromium(Path page, String... mode) throws IOException, InterruptedException {
    Path profile = Files.createTempDirectory(tmp, "chromium-profile");
    List<String> command = new ArrayList<>(List.of("chromium", "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--hide-scrollbars", "--user-data-dir=" + profile));
    command.addAll(List.of(mode));
    command.add(page.toUri().toString());
    Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium did not finish");
    assertEquals(0, p.exitValue(), "chromium failed");
    return new String(out, StandardCharsets.UTF_8);
  }

  @Test
  void reportRendersInHeadlessChromiumWithTheTablesPoints() throws Exception {
    assumeTrue(available("chromium", "--version"), "chromium is not installed");
    Path night = night("2026-01-02");
    String dom = chromium(night.resolve("report.html"), "--dump-dom");
    assertTrue(PageElements.title(dom).startsWith("Lopper report: prune 2026-01-02"), PageElements.title(dom));
    for (String id : List.of("summary", "comparison", "sensitivity", "allocation", "density", "verification", "run")) {
      assertTrue(dom.contains("<section id=\"" + id + "\">"), id);
    }
    // Every point of the sensitivity table is a point of the plot, with the same values.
    List<Map<String, String>> points = PageElements.withClass(PageElements.svg(dom, "sensitivity-chart"), "circle",
        "point");
    List<Map<String, String>> rows = csv(night.resolve("sensitivity.csv"));
    assertEquals(rows.size(), points.size());
    Set<String> plotted = new HashSet<>();
    for (Map<String, String> p : points) {
      plotted.add(p.get("data-tensor") + "|" + Double.parseDouble(p.get("data-sparsity")) + "|"
          + Double.parseDouble(p.get("data-value")));
    }
    for (Map<String, String> row : rows) {
      String key = row.get("tensor") + "|" + Double.parseDouble(row.get("sparsity")) + "|"
          + Double.parseDouble(row.get("accuracy"));
      assertTrue(plotted.contains(key), key + " not plotted");
    }
    // Every allocation bar holds its row of the allocation table.
    List<Map<String, String>> bars = PageElements.withClass(dom, "svg", "alloc-bar");
    List<Map<String, String>> allocation = csv(night.resolve("allocation.csv"));
    assertEquals(allocation.size(), bars.size());
    for (int i = 0; i < bars.size(); i++) {
      assertEquals(allocation.get(i).get("tensor"), bars.get(i).get("data-tensor"));
      assertEquals(Double.parseDouble(allocation.get(i).get("sparsity")),
          Double.parseDouble(bars.get(i).get("data-sparsity")));
      assertEquals(Long.parseLong(allocation.get(i).get("parameters")), Long.parseLong(bars.get(i).get("data-parameters")));
      assertEquals(Long.parseLong(allocation.get(i).get("pruned")), Long.parseLong(bars.get(i).get("data-pruned")));
    }

    // A screenshot at a laptop's width: the page paints (many colours, not a blank page).
    Path shot = Path.of("target", "report-screenshot.png").toAbsolutePath();
    Files.createDirectories(shot.getParent());
    Files.deleteIfExists(shot);
    chromium(night.resolve("report.html"), "--window-size=1366,5000", "--screenshot=" + shot);
    BufferedImage image = ImageIO.read(shot.toFile());
    assertEquals(1366, image.getWidth());
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < image.getHeight(); y += 7) {
      for (int x = 0; x < image.getWidth(); x += 7) {
        colours.add(image.getRGB(x, y));
      }
    }
    assertTrue(colours.size() > 50, "only " + colours.size() + " colours: a blank page?");
  }

  // ---- the notebook ----

  @Test
  void notebookRunsTopToBottomOnBothNights() throws Exception {
    assumeTrue(available("jupyter", "nbconvert", "--version"), "jupyter nbconvert is not installed");
    Path notebooks = SampleData.dir().resolveSibling("notebooks");
    Path executed = tmp.resolve("explore-run.executed.ipynb");
    ProcessBuilder pb = new ProcessBuilder("jupyter", "nbconvert", "--to", "notebook", "--execute",
        "--ExecutePreprocessor.timeout=300", "--output", executed.toString(),
        notebooks.resolve("explore-run.ipynb").toString())
        .directory(notebooks.toFile()).redirectErrorStream(true);
    pb.environment().put("LOPPER_RUN", night("2026-01-02").toString());
    pb.environment().put("LOPPER_PREVIOUS_RUN", night("2026-01-01").toString());
    pb.environment().put("MPLBACKEND", "module://matplotlib_inline.backend_inline");
    Process p = pb.start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "nbconvert did not finish");
    assertEquals(0, p.exitValue(), log);
    JsonNode nb = new ObjectMapper().readTree(executed.toFile());
    int images = 0;
    StringBuilder text = new StringBuilder();
    for (JsonNode cell : nb.get("cells")) {
      for (JsonNode out : cell.path("outputs")) {
        assertFalse(out.get("output_type").asText().equals("error"), out.toString());
        images += out.path("data").has("image/png") ? 1 : 0;
        out.path("text").forEach(t -> text.append(t.asText()));
      }
    }
    assertEquals(3, images, "curves, allocation, and tonight against last night");
    assertTrue(text.toString().contains("previous: " + night("2026-01-01")), text.toString());
    assertTrue(text.toString().contains("inputs changed: weights"), text.toString());
  }
}
