package dev.lopper.jobs.report;

import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.RunDirectory;
import java.io.PrintStream;
import org.apache.hadoop.fs.Path;

/**
 * The reporting step at the end of every run, before the commit: the comparison with the previous
 * run (when there is one) goes into the manifest, and {@code report.html} into the run directory.
 *
 * <pre>{@code
 * RunReport.write(dir, manifest, previousRun, err);   // then dir.commit(manifest.build())
 * }</pre>
 */
public final class RunReport {

  private RunReport() {}

  /**
   * Compares with {@code previousRun} (null: no comparison) into {@code manifest} and writes the
   * report. A failure here is reported on {@code err} as a warning and does not fail the run: the
   * run's results are worth more than its report.
   */
  public static void write(RunDirectory dir, Manifest.Builder manifest, String previousRun, PrintStream err) {
    if (previousRun != null) {
      try {
        Manifest previous = Manifest.read(new Path(previousRun, RunDirectory.MANIFEST).toString(), dir.conf());
        manifest.previousRun(previousRun, RunComparison.compare(previous, RunTables.read(previousRun, dir.conf()),
            manifest.build(), RunTables.read(dir.workPath(), dir.conf())));
      } catch (RuntimeException e) {
        err.println("lopper: warning: cannot compare with the previous run " + previousRun + ": " + e);
      }
    }
    try {
      HtmlReport.write(dir, manifest.build());
    } catch (RuntimeException e) {
      err.println("lopper: warning: cannot write " + HtmlReport.FILE + ": " + e);
    }
  }
}
