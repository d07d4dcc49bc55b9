package dev.lopper.jobs.cli;

import dev.lopper.InvalidInputException;
import dev.lopper.jobs.config.LopperConfig;
import dev.lopper.jobs.output.StageTimings;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.spark.sql.SparkSession;

/**
 * A run's Spark session, started on a thread of its own while the driver checks what needs no Spark:
 * the model's inspection, the run directory, the checksums. Neither needs the other and they take
 * comparable time, so side by side on the driver's cores the run waits for the longer only
 * (docs/design.md, "Start-up"; the timings before and after in docs/benchmarks.md).
 *
 * <p>A run that fails its checks has started Spark for nothing: {@link #close} waits for the start
 * and stops the session, so that no session outlives the run (a cluster sees a short application
 * that ran no job). A start that fails is reported when the run {@link #take}s the session, as bad
 * input: what makes Spark's start fail is its settings (a master URL Spark cannot parse, a {@code
 * spark.conf} value of the wrong type), and the message names the master and Spark's reason. A
 * standalone master that does not answer ({@link MasterReachability}) is found before Spark tries
 * it, and the command line reports it as unavailable (its cause is the refused connection).
 *
 * <pre>{@code
 * try (SparkStart starting = SparkStart.begin(command, config)) {
 *   stages.inspect(config, hadoop);            // while Spark starts
 *   SparkSession spark = starting.take(timings);
 *   ...
 * }
 * }</pre>
 */
final class SparkStart implements AutoCloseable {
  private final CompletableFuture<Started> started = new CompletableFuture<>();
  private final String master;
  private boolean taken;

  /** The session and how long its start took. */
  private record Started(SparkSession session, long millis) {}

  private SparkStart(String master) {
    this.master = master;
  }

  /** Starts the session of {@code command} ({@link SparkSessions#start}) on a new daemon thread. */
  static SparkStart begin(Command command, LopperConfig config) {
    SparkStart start = new SparkStart(SparkSessions.master(config));
    Thread thread = new Thread(() -> {
      long t0 = System.nanoTime();
      try {
        MasterReachability.check(start.master);
        SparkSession spark = SparkSessions.start(command, config);
        start.started.complete(new Started(spark, (System.nanoTime() - t0) / 1_000_000));
      } catch (Throwable e) {
        start.started.completeExceptionally(e);
      }
    }, "lopper-spark-start");
    thread.setDaemon(true);
    thread.start();
    return start;
  }

  /**
   * Waits for the session, records how long its start took as the stage {@code spark-start} and
   * makes it the calling thread's active session.
   *
   * @throws InvalidInputException when Spark did not start (an {@link Error} is thrown as it was)
   */
  SparkSession take(StageTimings timings) {
    taken = true;
    Started s;
    try {
      s = started.join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause(); // also Scala's checked SparkException
      if (cause instanceof Error error) {
        throw error;
      }
      String reason = cause.getMessage() == null ? cause.toString()
          : cause.getMessage().lines().findFirst().orElse("");
      throw new InvalidInputException("Spark did not start with master " + master + ": " + reason
          + " (see spark.master and spark.conf)", cause);
    }
    timings.record("spark-start", s.millis());
    SparkSession.setActiveSession(s.session());
    return s.session();
  }

  /** When the session was not taken (the run failed first): waits for its start and stops it. */
  @Override
  public void close() {
    if (taken) {
      return;
    }
    taken = true;
    try {
      started.join().session().stop();
    } catch (CompletionException e) {
      // The run has failed already and reports why; a failed start adds nothing to that.
    }
  }
}
