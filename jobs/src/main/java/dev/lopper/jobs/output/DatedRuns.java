package dev.lopper.jobs.output;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Run directories named by date, for scheduled runs ({@code output.name-by-date: true}): every run
 * of a configuration lands under the same {@code output.dir}, in {@code <output.dir>/<YYYY-MM-DD>}
 * (the UTC date the run started), or {@code <output.dir>/<YYYY-MM-DD>T<HHmmss>Z} when a run of
 * that day already exists and overwriting was not asked for. Both sort by name in the order the
 * runs were made, so the previous run is the greatest earlier name.
 *
 * <pre>{@code
 * String dir = DatedRuns.name("runs/nightly", false, clock.instant(), conf);   // runs/nightly/2026-11-21
 * Optional<String> previous = DatedRuns.previous("runs/nightly", dir, "prune", conf);
 * }</pre>
 */
public final class DatedRuns {

  /** The names a dated run directory has: a date, optionally with a UTC time. */
  private static final Pattern DATED = Pattern.compile("\\d{4}-\\d{2}-\\d{2}(T\\d{6}Z)?");
  private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter DAY_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  private DatedRuns() {}

  /**
   * The run directory for a run starting at {@code now} under {@code base}: the day's directory,
   * unless it exists and {@code overwrite} is false, then the day and time.
   *
   * @throws InvalidInputException when that one exists too (two runs within one second)
   */
  public static String name(String base, boolean overwrite, Instant now, Configuration conf) {
    String day = new Path(base, DAY.format(now)).toString();
    if (overwrite || !HadoopFiles.exists(day, conf)) {
      return day;
    }
    String time = new Path(base, DAY_TIME.format(now)).toString();
    if (HadoopFiles.exists(time, conf)) {
      throw new InvalidInputException("output directory " + time + " exists: a run of the same configuration "
          + "started in the same second; wait a second or pass --overwrite");
    }
    return time;
  }

  /** True when {@code name} (a directory's last path component) is a dated run directory's name. */
  public static boolean isDated(String name) {
    return DATED.matcher(name).matches();
  }

  /**
   * The previous complete run of {@code command} under {@code base}: among the dated directories
   * whose name sorts before {@code current}'s, the greatest one holding a readable manifest of the
   * same command. Temporary siblings of runs in progress or killed have other names and are never
   * taken; neither are directories without a manifest (incomplete).
   */
  public static Optional<String> previous(String base, String current, String command, Configuration conf) {
    String currentName = new Path(current).getName();
    FileSystem fs = HadoopFiles.fileSystem(base, conf);
    FileStatus[] children;
    try {
      children = fs.listStatus(new Path(base));
    } catch (FileNotFoundException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + base + ": " + e.getMessage(), e);
    }
    String best = null;
    String bestName = null;
    for (FileStatus child : children) {
      String name = child.getPath().getName();
      if (!child.isDirectory() || !isDated(name) || name.compareTo(currentName) >= 0
          || (bestName != null && name.compareTo(bestName) <= 0)) {
        continue;
      }
      String manifest = new Path(child.getPath(), RunDirectory.MANIFEST).toString();
      if (!HadoopFiles.exists(manifest, conf)) {
        continue;
      }
      try {
        if (Manifest.read(manifest, conf).command().equals(command)) {
          best = new Path(base, name).toString();
          bestName = name;
        }
      } catch (InvalidInputException e) {
        // Not a Lopper manifest (or a damaged one): not a previous run.
      }
    }
    return Optional.ofNullable(best);
  }
}
