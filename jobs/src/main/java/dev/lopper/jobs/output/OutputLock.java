package dev.lopper.jobs.output;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One run per output at a time: a run holds {@code <parent>/.<name>.lock} beside its output
 * directory (for runs named by date, beside {@code output.dir} itself, so two nightly runs never
 * overlap) from before it writes anything until it has committed or aborted. A second run on the
 * same output is refused, naming the holder.
 *
 * <p>The lock file is created exclusively ({@link HadoopFiles#createExclusively}) and holds the
 * holder's run id, host, process id and start time; the holder touches it every {@link #HEARTBEAT}.
 * A lock is <em>stale</em>, and is taken over with a warning, when its holder is gone: on the same
 * host, when no process of that id is alive; on another host, when the lock has not been touched
 * for {@link #STALE_AFTER} (a live holder touches it ten times in that span). Taking over renames
 * the stale lock aside first, which only one of several runs can do.
 *
 * <pre>{@code
 * try (OutputLock lock = OutputLock.acquire(config.output().dir(), runId, hadoop, err::println)) {
 *   ... write and commit the run directory ...
 * }
 * }</pre>
 */
public final class OutputLock implements AutoCloseable {

  /** How often the holder touches its lock. */
  public static final Duration HEARTBEAT = Duration.ofSeconds(30);

  /** How long a lock of another host may go untouched before it counts as left by a dead run. */
  public static final Duration STALE_AFTER = Duration.ofMinutes(5);

  /**
   * What a lock file says of its holder.
   *
   * @param runId the holder's run id (its temporary directory is {@code <output>.tmp-<runId>})
   * @param host the holder's host name
   * @param pid the holder's process id
   * @param started when the holder took the lock, ISO-8601 UTC
   */
  public record Holder(String runId, String host, long pid, String started) {

    /** One line for people: "run R (host H, pid P, started S)". */
    public String describe() {
      return "run " + runId + " (host " + host + ", pid " + pid + ", started " + started + ")";
    }
  }

  private final Path path;
  private final FileSystem fs;
  private final ScheduledExecutorService heartbeat;

  private OutputLock(Path path, FileSystem fs) {
    this.path = path;
    this.fs = fs;
    this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lopper-output-lock");
      t.setDaemon(true);
      return t;
    });
    long every = HEARTBEAT.toMillis();
    heartbeat.scheduleAtFixedRate(this::touch, every, every, TimeUnit.MILLISECONDS);
  }

  /** The lock file of {@code output}: {@code <parent>/.<name>.lock}. */
  public static String lockPath(String output) {
    Path out = new Path(output);
    if (out.getParent() == null) {
      throw new InvalidInputException("output.dir: " + output + " is a root directory; choose a directory below it");
    }
    return new Path(out.getParent(), "." + out.getName() + ".lock").toString();
  }

  /**
   * Takes the lock of {@code output} for run {@code runId}, taking over a stale one (reported on
   * {@code warn}).
   *
   * @throws InvalidInputException when a live run holds it, naming that run and the lock file
   */
  public static OutputLock acquire(String output, String runId, Configuration conf, Consumer<String> warn) {
    String lock = lockPath(output);
    FileSystem fs = HadoopFiles.fileSystem(lock, conf);
    Holder me = new Holder(runId, hostName(), ProcessHandle.current().pid(), Instant.now().toString());
    byte[] content = json(me);
    for (int attempt = 0; attempt < 2; attempt++) {
      if (HadoopFiles.createExclusively(lock, conf, content)) {
        return new OutputLock(new Path(lock), fs);
      }
      Holder holder = read(lock, conf);
      String stale = staleness(holder, fs, new Path(lock));
      if (stale == null) {
        throw held(output, lock, holder);
      }
      Path aside = new Path(lock + ".stale-" + runId);
      try {
        if (fs.rename(new Path(lock), aside)) {
          warn.accept("lopper: warning: took over the lock of " + output + " from "
              + (holder == null ? "a run whose lock is unreadable" : holder.describe()) + ": " + stale);
          fs.delete(aside, false);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(lock + ": cannot take over a stale lock: " + e.getMessage(), e);
      }
    }
    throw held(output, lock, read(lock, conf));
  }

  private static InvalidInputException held(String output, String lock, Holder holder) {
    return new InvalidInputException("output " + output + " is being written by "
        + (holder == null ? "another run" : holder.describe()) + "; wait for it, or delete " + lock
        + " if that run is gone");
  }

  /**
   * Why {@code holder}'s lock is stale, or null when its holder may be alive. A lock whose content
   * cannot be read (being written this instant, or damaged) goes by its age alone.
   */
  static String staleness(Holder holder, FileSystem fs, Path lock) {
    if (holder != null && holder.host().equals(hostName())) {
      return ProcessHandle.of(holder.pid()).map(ProcessHandle::isAlive).orElse(false) ? null
          : "no process " + holder.pid() + " runs on this host";
    }
    try {
      FileStatus status = fs.getFileStatus(lock);
      Duration idle = Duration.ofMillis(System.currentTimeMillis() - status.getModificationTime());
      return idle.compareTo(STALE_AFTER) > 0 ? "untouched for " + idle.toSeconds() + " s" : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Releases the lock: stops touching it and deletes it. */
  @Override
  public void close() {
    heartbeat.shutdownNow();
    try {
      fs.delete(path, false);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot release the lock: " + e.getMessage(), e);
    }
  }

  private void touch() {
    try {
      fs.setTimes(path, System.currentTimeMillis(), -1);
    } catch (IOException | RuntimeException e) {
      // A missed heartbeat is retried at the next one; ten in a row make the lock stale.
    }
  }

  private static Holder read(String lock, Configuration conf) {
    try {
      return Manifest.JSON.readValue(HadoopFiles.readAll(lock, conf), Holder.class);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static byte[] json(Holder holder) {
    try {
      return Manifest.JSON.writeValueAsString(holder).getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the lock", e);
    }
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return ManagementFactory.getRuntimeMXBean().getName();
    }
  }
}
