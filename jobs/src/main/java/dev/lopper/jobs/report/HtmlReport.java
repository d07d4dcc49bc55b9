package dev.lopper.jobs.report;

import dev.lopper.io.HadoopFiles;
import dev.lopper.jobs.output.Manifest;
import dev.lopper.jobs.output.OutputFile;
import dev.lopper.jobs.output.RunDirectory;
import gg.jte.Content;
import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.html.HtmlTemplateOutput;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * {@code report.html}: one self-contained page per run that a person opens in a browser — no
 * scripts, no network, plots as inline SVG. Sections: summary, change from the previous run (for
 * runs named by date), sensitivity curves and table, allocation, density per tensor, verification
 * and the gate, and the run's record (inputs with checksums, configuration, timings, Spark
 * application, versions).
 *
 * <p>The page is rendered from the manifest (before commit) and the tables the run wrote, read back
 * from their Parquet files, so it shows exactly what the run directory holds.
 *
 * <p>The markup is in JTE templates, {@code jobs/src/main/jte/report/}: {@code page.jte} and one per
 * section, precompiled by the build, so a run needs only JTE's runtime. Java computes what they show,
 * a record per section ({@link SummarySection}, {@link ComparisonSection}, {@link SensitivitySection},
 * {@link AllocationSection}, {@link DensitySection}, {@link VerificationSection}, {@link RunSection})
 * gathered in a {@link ReportPage}; the plots are SVG from {@link SvgCharts}; the stylesheet is the
 * resource {@code report.css}, inlined.
 *
 * <pre>{@code
 * HtmlReport.write(dir, manifest.build());   // before dir.commit(...)
 * }</pre>
 */
public final class HtmlReport {

  /** The report's file name in a run directory. */
  public static final String FILE = "report.html";

  /** The package of the precompiled templates ({@code jobs/src/main/jte}), as {@code jobs/pom.xml} sets it. */
  private static final String TEMPLATES = "dev.lopper.jobs.templates";
  /** The page's template; it includes one template per section. */
  private static final String PAGE = "report/page.jte";
  private static final TemplateEngine ENGINE = templates();

  private HtmlReport() {}

  /** Renders the report of the run being written in {@code dir} and writes it as {@value #FILE}. */
  public static void write(RunDirectory dir, Manifest manifest) {
    RunTables tables = RunTables.read(dir.workPath(), dir.conf());
    RunTables previous = manifest.previousRun() == null ? null : RunTables.read(manifest.previousRun(), dir.conf());
    List<String> files = dir.outputs().stream().map(OutputFile::path).toList();
    byte[] page = render(manifest, tables, previous, files).getBytes(StandardCharsets.UTF_8);
    HadoopFiles.writeAtomically(dir.file(FILE), dir.conf(), out -> out.write(page));
  }

  /**
   * The page.
   *
   * @param manifest the run's manifest, before commit
   * @param tables the tables the run wrote
   * @param previous the previous run's tables ({@link Manifest#previousRun()}), or null
   * @param files the files in the run directory, relative, for links
   */
  static String render(Manifest manifest, RunTables tables, RunTables previous, List<String> files) {
    PageOutput out = new PageOutput();
    ENGINE.render(PAGE, ReportPage.of(ReportRun.of(manifest, tables, previous), files), out);
    return out.toString();
  }

  /**
   * The engine over the template classes the build precompiled ({@code jobs/pom.xml}). It finds them
   * through the thread's context class loader, which need not see Lopper's jar: so through this
   * class's.
   */
  private static TemplateEngine templates() {
    Thread thread = Thread.currentThread();
    ClassLoader context = thread.getContextClassLoader();
    thread.setContextClassLoader(HtmlReport.class.getClassLoader());
    try {
      return TemplateEngine.createPrecompiled(null, ContentType.Html, null, TEMPLATES);
    } finally {
      thread.setContextClassLoader(context);
    }
  }

  /**
   * Where the templates write. Every {@code ${...}} is escaped with {@link Html#text}, as the page
   * always was (JTE's default escaper leaves quotes in text and control characters as they are);
   * {@link gg.jte.Content} — {@link Html#markup}, the plots and the stylesheet — goes in as it is,
   * except in an attribute's value, where it is text too.
   */
  private static final class PageOutput implements HtmlTemplateOutput {
    private final StringBuilder out = new StringBuilder(64 * 1024);
    private boolean inAttribute;

    @Override
    public void setContext(String tagName, String attributeName) {
      inAttribute = attributeName != null;
    }

    @Override
    public void writeContent(String value) {
      out.append(value);
    }

    @Override
    public void writeContent(String value, int beginIndex, int endIndex) {
      out.append(value, beginIndex, endIndex);
    }

    @Override
    public void writeUserContent(String value) {
      if (value != null) {
        out.append(Html.text(value));
      }
    }

    @Override
    public void writeUserContent(Enum<?> value) {
      if (value != null) {
        writeUserContent(value.name());
      }
    }

    @Override
    public void writeUserContent(Content content) {
      if (content == null) {
        return;
      }
      if (inAttribute) {
        PageOutput text = new PageOutput();
        content.writeTo(text);
        writeUserContent(text.toString());
      } else {
        content.writeTo(this);
      }
    }

    @Override
    public String toString() {
      return out.toString();
    }
  }
}
