package dev.lopper.jobs.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.jobs.allocation.TensorAllocation;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.sweep.SensitivityRow;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/** The report page from hand-made tables: its plots hold the tables' points, its text is escaped. */
class HtmlReportTest {

  private static String page(Manifest manifest, RunTables tables, RunTables previous) {
    return HtmlReport.render(manifest, tables, previous, List.of("sensitivity.csv", "allocation.csv"));
  }

  @Test
  void sensitivityChartHoldsEveryPointOfTheTable() {
    RunTables tables = ReportFixtures.pruneTables(0, 0.8);
    String html = page(ReportFixtures.prune("r1", 0.7, 0.89, "bb".repeat(32)).build(), tables, null);
    List<Map<String, String>> points = PageElements.withClass(PageElements.svg(html, "sensitivity-chart"), "circle",
        "point");
    List<SensitivityRow> s = tables.sensitivity();
    assertEquals(s.size(), points.size(), "one circle per table row, the baseline included");
    for (SensitivityRow row : s) {
      String tensor = row.tensor();
      double sparsity = row.sparsity();
      double accuracy = row.metrics().accuracy();
      assertTrue(points.stream().anyMatch(p -> p.get("data-tensor").equals(tensor)
          && Double.parseDouble(p.get("data-sparsity")) == sparsity
          && Double.parseDouble(p.get("data-value")) == accuracy), tensor + " at " + sparsity);
    }
    // The points are where their values say: a higher accuracy is drawn higher up (smaller y).
    List<Map<String, String>> byValue = new ArrayList<>(points);
    byValue.sort(Comparator.comparingDouble(p -> Double.parseDouble(p.get("data-value"))));
    for (int i = 1; i < byValue.size(); i++) {
      double lower = Double.parseDouble(byValue.get(i - 1).get("data-value"));
      double higher = Double.parseDouble(byValue.get(i).get("data-value"));
      if (higher > lower) {
        assertTrue(Double.parseDouble(byValue.get(i).get("cy")) < Double.parseDouble(byValue.get(i - 1).get("cy")));
      }
    }
    // The gate's line lies max-drop below the dense accuracy.
    List<Map<String, String>> gate = PageElements.withClass(PageElements.svg(html, "sensitivity-chart"), "line", "gate");
    assertEquals(1, gate.size());
    assertEquals(0.9 - 0.02, Double.parseDouble(gate.get(0).get("data-value")), 1e-15);
  }

  @Test
  void allocationBarsMatchTheAllocationTable() {
    RunTables tables = ReportFixtures.pruneTables(0, 0.8);
    String html = page(ReportFixtures.prune("r1", 0.7, 0.89, "bb".repeat(32)).build(), tables, null);
    List<Map<String, String>> bars = PageElements.withClass(html, "svg", "alloc-bar");
    List<TensorAllocation> a = tables.allocation();
    assertEquals(a.size(), bars.size());
    for (int i = 0; i < bars.size(); i++) {
      TensorAllocation row = a.get(i);
      Map<String, String> bar = bars.get(i);
      assertEquals(row.tensor(), bar.get("data-tensor"));
      assertEquals(row.sparsity(), Double.parseDouble(bar.get("data-sparsity")));
      assertEquals(row.parameters(), Long.parseLong(bar.get("data-parameters")));
      assertEquals(row.pruned(), Long.parseLong(bar.get("data-pruned")));
    }
    // Fill widths: 25% and 80% of the 240-unit bar.
    List<Map<String, String>> fills = PageElements.withClass(html, "rect", "fill");
    assertEquals(60.0, Double.parseDouble(fills.get(0).get("width")), 0.01);
    assertEquals(192.0, Double.parseDouble(fills.get(1).get("width")), 0.01);
    List<Map<String, String>> density = PageElements.withClass(html, "svg", "density-bar");
    assertEquals(List.of("54", "200"), density.stream().map(d -> d.get("data-kept")).toList());
    assertTrue(html.contains("<td class=\"mono\">8×1×3×3</td>"), "shape as the dimensions");
  }

  @Test
  void escapesTensorNamesAndIsWellFormed() throws Exception {
    String html = page(ReportFixtures.prune("r1", 0.7, 0.89, "bb".repeat(32)).build(),
        ReportFixtures.pruneTables(0, 0.8), null);
    assertFalse(html.contains("<script"), "no markup from a tensor name");
    assertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;conv&quot;"));
    // Well-formed as XML too: every element closed, every entity known.
    Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
    assertEquals(0, doc.getElementsByTagName("script").getLength());
    assertEquals("Lopper report: prune r1", doc.getElementsByTagName("title").item(0).getTextContent());
    for (String id : List.of("summary", "sensitivity", "allocation", "density", "verification", "run")) {
      assertTrue(html.contains("<section id=\"" + id + "\">"), id);
    }
    assertFalse(html.contains("<section id=\"comparison\">"), "no previous run, no comparison");
    assertFalse(html.contains("http://") || html.contains("https://"), "nothing fetched from the network");
  }

  @Test
  void escapesPathsAndConfigurationValues() throws Exception {
    Map<String, Object> configuration = ReportFixtures.configuration(0.7);
    configuration.put("note", ReportFixtures.HOSTILE + "\u0001");
    Manifest m = ReportFixtures.prune("r1", 0.7, 0.89, "bb".repeat(32)).configuration(configuration)
        .input(new InputFile("data", "data/" + ReportFixtures.HOSTILE + ".parquet", 30, "dd".repeat(32))).build();
    String html = page(m, ReportFixtures.pruneTables(0, 0.8), null);
    assertFalse(html.contains("<script"), "no markup from a path or a configuration value");
    String escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;conv&quot;";
    assertTrue(html.contains("<td class=\"mono\">data/" + escaped + ".parquet</td>"), "the input's path");
    assertTrue(html.contains("<tr><th>note</th><td class=\"mono\">" + escaped + "&#xFFFD;</td></tr>"),
        "the configuration value, its control character replaced");
    DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
  }

  /** The section templates end without a line break, so their calls in the page add none. */
  @Test
  void pageHasNoBlankLines() {
    Manifest previous = ReportFixtures.prune("2026-01-01", 0.7, 0.89, "bb".repeat(32)).build();
    RunTables before = ReportFixtures.pruneTables(0, 0.8);
    RunTables now = ReportFixtures.pruneTables(0.01, 0.7);
    Manifest.Builder current = ReportFixtures.prune("2026-01-02", 0.7, 0.885, "cc".repeat(32));
    current.previousRun("runs/nightly/2026-01-01", RunComparison.compare(previous, before, current.build(), now));
    Manifest sensitivity = Manifest.builder("r", "sensitivity").output("runs/s")
        .configuration(ReportFixtures.configuration(0.5)).build();
    for (String html : List.of(page(previous, before, null), page(current.build(), now, before),
        page(sensitivity, new RunTables(ReportFixtures.sensitivity(0), null, null, null), null))) {
      assertFalse(html.contains("\n\n"), () -> "a blank line at " + html.indexOf("\n\n") + ": "
          + html.substring(Math.max(0, html.indexOf("\n\n") - 80), html.indexOf("\n\n")));
    }
  }

  @Test
  void sensitivityRunShowsNoAllocationSections() {
    RunTables tables = new RunTables(ReportFixtures.sensitivity(0), null, null, null);
    Manifest m = Manifest.builder("r", "sensitivity").output("runs/s").configuration(ReportFixtures.configuration(0.5))
        .build();
    String html = page(m, tables, null);
    assertTrue(html.contains("<section id=\"sensitivity\">"));
    for (String id : List.of("allocation", "density", "verification", "comparison")) {
      assertFalse(html.contains("<section id=\"" + id + "\">"), id);
    }
    assertEquals(5, PageElements.withClass(PageElements.svg(html, "sensitivity-chart"), "circle", "point").size());
  }

  @Test
  void showsTheChangeFromThePreviousRun() {
    Manifest previous = ReportFixtures.prune("2026-01-01", 0.7, 0.89, "bb".repeat(32)).build();
    RunTables before = ReportFixtures.pruneTables(0, 0.8);
    RunTables now = ReportFixtures.pruneTables(0.01, 0.7);
    Manifest.Builder current = ReportFixtures.prune("2026-01-02", 0.7, 0.885, "cc".repeat(32));
    current.previousRun("runs/nightly/2026-01-01", RunComparison.compare(previous, before, current.build(), now));
    String html = page(current.build(), now, before);
    assertTrue(html.contains("<section id=\"comparison\">"));
    assertTrue(html.contains("href=\"../2026-01-01/report.html\""), "a link to the previous report");
    List<Map<String, String>> cells = PageElements.elements(html, "td").stream()
        .filter(c -> c.containsKey("data-change")).toList();
    assertEquals(4, cells.size(), "two tensors x two sparsities");
    assertEquals(0.01, Double.parseDouble(cells.get(0).get("data-change")), 1e-12);
    assertEquals(-0.01, Double.parseDouble(cells.get(3).get("data-change")), 1e-12);
    assertEquals(4, PageElements.withClass(html, "polyline", "previous-curve").size(),
        "the previous run's two curves in both charts");
  }

  @Test
  void showsTheReadableNameBesideAnAnonymousTensorOnly() throws Exception {
    Manifest previous = ReportFixtures.prune("2026-01-01", 0.7, 0.89, "bb".repeat(32)).build();
    RunTables before = ReportFixtures.anonymous(ReportFixtures.pruneTables(0, 0.8));
    RunTables now = ReportFixtures.anonymous(ReportFixtures.pruneTables(0.01, 0.7));
    Manifest.Builder current = ReportFixtures.prune("2026-01-02", 0.7, 0.885, "cc".repeat(32));
    current.previousRun("runs/nightly/2026-01-01", RunComparison.compare(previous, before, current.build(), now));
    String html = page(current.build(), now, before);

    String beside = ReportFixtures.ANONYMOUS + "<br/><span class=\"muted\">" + ReportFixtures.NODE + "</span>";
    for (String table : List.of("sensitivity-table", "allocation-table", "density-table", "tensor-changes")) {
      String cells = table(html, table);
      assertEquals(1, cells.split(java.util.regex.Pattern.quote(beside), -1).length - 1, table + ": " + cells);
      assertEquals(1, cells.split("<span class=\"muted\">", -1).length - 1, table + ": the named tensor has none");
    }
    List<Map<String, String>> rows = PageElements.elements(html, "tr").stream()
        .filter(r -> r.containsKey("data-tensor")).toList();
    assertEquals(4, rows.size(), "two tensors in the sensitivity table and in the changes");
    for (Map<String, String> row : rows) {
      assertEquals(row.get("data-tensor").equals(ReportFixtures.ANONYMOUS) ? ReportFixtures.NODE : null,
          row.get("data-node"), row.toString());
    }
    assertTrue(html.contains(ReportFixtures.ANONYMOUS + " <span class=\"muted\">" + ReportFixtures.NODE
        + "</span></span>"), "in the chart's legend");
    assertTrue(html.contains("<title>" + ReportFixtures.ANONYMOUS + " (" + ReportFixtures.NODE + ") at 50.0%"),
        "in the points' titles");
    DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));

    String named = page(previous, ReportFixtures.pruneTables(0, 0.8), null);
    assertFalse(named.contains("data-node") || named.contains("<br/><span class=\"muted\">"),
        "tensors with names of their own: nothing beside them");
  }

  /** The HTML of the table with id {@code id}. */
  private static String table(String html, String id) {
    int start = html.indexOf("<table class=\"heat\" id=\"" + id + "\">");
    start = start >= 0 ? start : html.indexOf("<table id=\"" + id + "\">");
    assertTrue(start >= 0, id);
    return html.substring(start, html.indexOf("</table>", start));
  }
}
