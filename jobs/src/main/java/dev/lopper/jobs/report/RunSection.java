package dev.lopper.jobs.report;

import static dev.lopper.jobs.report.Html.count;
import static dev.lopper.jobs.report.Html.markup;

import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunResults;
import gg.jte.Content;
import java.util.ArrayList;
import java.util.List;

/**
 * "Run" ({@code report/run.jte}): the run's record — id, command line, status, times, output,
 * the sweep's units (and how many a resumed run reused), Spark application, versions; the inputs
 * with sizes and SHA-256; the time per stage; the configuration as run.
 *
 * @param record the run's facts, in the page's order
 * @param inputs the inputs
 * @param timings the time per stage as bars (SVG drawn by {@link SvgCharts})
 * @param totalTime the stages' total time
 * @param configuration the configuration as run, by dotted key
 */
public record RunSection(List<Entry> record, List<Input> inputs, Content timings, String totalTime,
    List<Entry> configuration) {

  /** A key and its value. */
  public record Entry(String key, String value) {}

  /** An input file: its role, path, size in bytes and SHA-256. */
  public record Input(String role, String path, String bytes, String sha256) {}

  static RunSection of(ReportRun run) {
    Manifest m = run.manifest();
    List<Entry> record = new ArrayList<>();
    record.add(entry("run id", m.runId()));
    record.add(entry("command", m.command()));
    record.add(entry("command line", String.join(" ", m.commandLine())));
    record.add(entry("status", m.status() == null ? "" : m.status().name()));
    record.add(entry("started", m.started()));
    record.add(entry("finished", m.finished()));
    record.add(entry("output", m.output()));
    if (m.previousRun() != null) {
      record.add(entry("previous run", m.previousRun()));
    }
    RunResults.read(m.results(), RunResults.SweepUnits.class).ifPresent(u -> record.add(entry("sweep units",
        u.sweepUnits() + (u.sweepUnitsReused() > 0 ? " (" + u.sweepUnitsReused() + " reused from the checkpoint of an"
            + " interrupted run, " + (u.sweepUnits() - u.sweepUnitsReused()) + " computed)" : ""))));
    record.add(entry("Spark application", m.sparkApplicationId() == null ? "" : m.sparkApplicationId()));
    StringBuilder versions = new StringBuilder();
    m.versions().forEach((k, v) -> versions.append(versions.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
    record.add(entry("versions", versions.toString()));
    List<Input> inputs = new ArrayList<>();
    for (InputFile i : m.inputs()) {
      inputs.add(new Input(String.valueOf(i.role()), String.valueOf(i.path()), count(i.bytes()),
          String.valueOf(i.sha256())));
    }
    long total = m.timingsMillis().values().stream().mapToLong(Long::longValue).sum();
    List<Entry> configuration = new ArrayList<>();
    run.config().forEach((k, v) -> configuration.add(entry(k, String.valueOf(v))));
    return new RunSection(List.copyOf(record), List.copyOf(inputs), markup(SvgCharts.timings(m.timingsMillis())),
        SvgCharts.seconds(total), List.copyOf(configuration));
  }

  private static Entry entry(String key, Object value) {
    return new Entry(key, String.valueOf(value));
  }
}
