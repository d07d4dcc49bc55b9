package dev.lopper.jobs.output;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * A run's output directory, written so that an interrupted run never looks complete.
 *
 * <pre>{@code
 * RunDirectory dir = RunDirectory.create("runs/x", false, RunDirectory.newRunId(), conf);
 * writer.write(dir.file("sensitivity.csv"));
 * dir.commit(manifest);          // or dir.abort() on an internal error
 * }</pre>
 *
 * <p>Guarantees:
 * <ul>
 *   <li>An existing output directory is refused unless overwriting is asked for, before anything is
 *       written.
 *   <li>Everything is written into a sibling {@code <output>.tmp-<runId>}; a run killed midway
 *       leaves only that sibling, never {@code <output>}.
 *   <li>{@link #commit} writes {@code manifest.json} last, then renames the sibling to the output
 *       path, which is atomic on HDFS and local disks. On object stores, where a rename is a copy,
 *       the manifest lists every output file with its size so a reader can check completeness: a
 *       run directory is complete exactly when its manifest is there and its files match.
 *   <li>Overwriting moves the old directory aside ({@code <output>.replaced-<runId>}) before the
 *       rename and deletes it after, so a crash in between loses neither.
 *   <li>A run whose quality gate failed is committed too, with status {@link RunStatus#FAILED_GATE}
 *       in its manifest: its outputs are kept for inspection where a scheduler expects them, and the
 *       exit code says it failed. A run that failed with an error is {@link #abort}ed: its temporary
 *       directory is deleted.
 * </ul>
 */
public final class RunDirectory {

  /** The manifest's file name inside a run directory. */
  public static final String MANIFEST = "manifest.json";

  private final Path output;
  private final Path work;
  private final String runId;
  private final boolean overwrite;
  private final FileSystem fs;
  private final Configuration conf;

  private RunDirectory(Path output, Path work, String runId, boolean overwrite, FileSystem fs, Configuration conf) {
    this.output = output;
    this.work = work;
    this.runId = runId;
    this.overwrite = overwrite;
    this.fs = fs;
    this.conf = conf;
  }

  /** A new run id: UTC time and a random suffix, e.g. {@code 20261121T220310Z-3f9a2c1b}. */
  public static String newRunId() {
    return ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"))
        + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * Refuses {@code output} when it exists and {@code overwrite} is false, without writing anything.
   *
   * @throws InvalidInputException naming the directory and the way out
   */
  public static void checkAvailable(String output, boolean overwrite, Configuration conf) {
    Path path = new Path(output);
    if (path.getParent() == null) {
      throw new InvalidInputException("output.dir: " + output + " is a root directory; choose a directory below it");
    }
    if (!overwrite && HadoopFiles.exists(output, conf)) {
      throw new InvalidInputException("output directory " + output + " exists; pass --overwrite or choose another");
    }
  }

  /**
   * Checks that {@code output} may be written and creates the temporary sibling to write into.
   *
   * @throws InvalidInputException when {@code output} exists and {@code overwrite} is false
   */
  public static RunDirectory create(String output, boolean overwrite, String runId, Configuration conf) {
    checkAvailable(output, overwrite, conf);
    Path path = new Path(output);
    Path work = new Path(path.getParent(), path.getName() + ".tmp-" + runId);
    FileSystem fs = HadoopFiles.fileSystem(output, conf);
    try {
      if (!fs.mkdirs(work)) {
        throw new IOException("mkdirs returned false");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + work + ": " + e.getMessage(), e);
    }
    return new RunDirectory(path, work, runId, overwrite, fs, conf);
  }

  /** Temporary siblings {@code <output>.tmp-*} left by runs that were killed, to warn about. */
  public static List<String> leftovers(String output, Configuration conf) {
    Path path = new Path(output);
    if (path.getParent() == null) {
      return List.of();
    }
    FileSystem fs = HadoopFiles.fileSystem(output, conf);
    try {
      FileStatus[] siblings = fs.globStatus(new Path(path.getParent(), globEscape(path.getName()) + ".tmp-*"));
      List<String> out = new ArrayList<>();
      if (siblings != null) {
        for (FileStatus s : siblings) {
          out.add(s.getPath().toString());
        }
      }
      return out;
    } catch (IOException e) {
      return List.of();
    }
  }

  private static String globEscape(String name) {
    return name.replaceAll("([\\\\*?\\[\\]{}])", "\\\\$1");
  }

  /** The run's id. */
  public String runId() {
    return runId;
  }

  /** The output directory as configured, where the run ends up. */
  public String path() {
    return output.toString();
  }

  /** The temporary directory being written. */
  public String workPath() {
    return work.toString();
  }

  /** The Hadoop configuration this directory is written with. */
  public Configuration conf() {
    return conf;
  }

  /**
   * The path to write an output file at, e.g. {@code file("tables/sensitivity.csv")}: inside the
   * temporary directory until {@link #commit}.
   */
  public String file(String relative) {
    if (relative.isEmpty() || relative.startsWith("/") || relative.contains("..") || relative.equals(MANIFEST)) {
      throw new IllegalArgumentException("not a relative output file name: '" + relative + "'");
    }
    return new Path(work, relative).toString();
  }

  /** Every file written so far, relative to the directory, sorted; hidden files and the manifest left out. */
  public List<OutputFile> outputs() {
    List<OutputFile> files = new ArrayList<>();
    try {
      String prefix = fs.getFileStatus(work).getPath().toUri().getPath() + "/";
      RemoteIterator<LocatedFileStatus> it = fs.listFiles(work, true);
      while (it.hasNext()) {
        LocatedFileStatus file = it.next();
        String relative = file.getPath().toUri().getPath().substring(prefix.length());
        if (!relative.equals(MANIFEST) && !isHidden(relative)) {
          files.add(new OutputFile(relative, file.getLen()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + work + ": " + e.getMessage(), e);
    }
    files.sort(Comparator.comparing(OutputFile::path));
    return files;
  }

  private static boolean isHidden(String relative) {
    for (String part : relative.split("/")) {
      if (part.startsWith(".")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Completes the run: lists the outputs into the manifest, writes the manifest last and renames the
   * temporary directory to the output path (replacing an old one when overwriting).
   *
   * @return the manifest as written
   * @throws InvalidInputException when the output path appeared meanwhile and overwriting was not
   *     asked for; the outputs stay in the temporary directory, which the message names
   */
  public Manifest commit(Manifest manifest) {
    Manifest written = manifest.withOutputs(outputs());
    written.write(new Path(work, MANIFEST).toString(), conf);
    Path replaced = new Path(output.getParent(), output.getName() + ".replaced-" + runId);
    try {
      boolean old = fs.exists(output);
      if (old && !overwrite) {
        throw new InvalidInputException("output directory " + output + " appeared while the run was writing; "
            + "the run's outputs are in " + work);
      }
      if (old && !fs.rename(output, replaced)) {
        throw new IOException("cannot move the old " + output + " aside to " + replaced);
      }
      if (!fs.rename(work, output)) {
        throw new IOException("cannot rename " + work + " to " + output);
      }
      if (old) {
        fs.delete(replaced, true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot commit the run to " + output + " (outputs in " + work + "): "
          + e.getMessage(), e);
    }
    return written;
  }

  /** Deletes the temporary directory: the run failed with an error and its partial outputs are worthless. */
  public void abort() {
    try {
      fs.delete(work, true);
    } catch (FileNotFoundException e) {
      // Already gone.
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + work + ": " + e.getMessage(), e);
    }
  }
}
