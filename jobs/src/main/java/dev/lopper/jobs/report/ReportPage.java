package dev.lopper.jobs.report;

import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunStatus;
import gg.jte.Content;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * What {@code report/page.jte} shows: the head and the header, a section each (null: the page has
 * no such section, nor a link to it), and the footer.
 *
 * @param title the page's title
 * @param style the stylesheet ({@value #STYLESHEET}), inlined: the page fetches nothing
 * @param command the run's command
 * @param output the run's directory
 * @param status the run's status, "UNKNOWN" when it has none
 * @param statusClass {@code badge ok}, or {@code badge fail} for a failed gate
 * @param summary the summary cards
 * @param comparison the change from the previous run, or null
 * @param sensitivity the sensitivity curves and table
 * @param allocation the allocation, or null
 * @param density the density per tensor, or null
 * @param verification verification and the gate, or null
 * @param run the run's record
 * @param version Lopper's version
 * @param runId the run's id
 * @param tables the run's CSV tables, relative to the run directory
 */
public record ReportPage(String title, Content style, String command, String output, String status,
    String statusClass, SummarySection summary, ComparisonSection comparison, SensitivitySection sensitivity,
    AllocationSection allocation, DensitySection density, VerificationSection verification, RunSection run,
    String version, String runId, List<String> tables) {

  /** The stylesheet, a resource beside this class. */
  static final String STYLESHEET = "report.css";

  /**
   * The page of {@code run}.
   *
   * @param files the files in the run directory, relative, for links
   */
  static ReportPage of(ReportRun run, List<String> files) {
    Manifest m = run.manifest();
    RunStatus status = m.status();
    String name = m.output() == null ? m.runId() : new Path(m.output()).getName();
    boolean verified = run.tables().verification() != null || m.gate() != null;
    return new ReportPage("Lopper report: " + m.command() + " " + name, Html.markup(stylesheet()),
        String.valueOf(m.command()), String.valueOf(m.output()), status == null ? "UNKNOWN" : status.name(),
        "badge " + (status != RunStatus.FAILED_GATE ? "ok" : "fail"), SummarySection.of(run),
        run.hasComparison() ? ComparisonSection.of(run) : null, SensitivitySection.of(run),
        run.tables().allocation() == null ? null : AllocationSection.of(run),
        run.tables().masks() == null ? null : DensitySection.of(run), verified ? VerificationSection.of(run) : null,
        RunSection.of(run), m.versions().getOrDefault("lopper", ""), String.valueOf(m.runId()),
        files.stream().filter(f -> f.endsWith(".csv")).toList());
  }

  private static String stylesheet() {
    try (InputStream in = ReportPage.class.getResourceAsStream(STYLESHEET)) {
      if (in == null) {
        throw new IllegalStateException("no resource " + STYLESHEET + " beside " + ReportPage.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + STYLESHEET, e);
    }
  }
}
