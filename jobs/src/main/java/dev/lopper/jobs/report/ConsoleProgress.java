package dev.lopper.jobs.report;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Progress of a run on the console while Spark works: a {@link SparkListener} that counts finished
 * tasks per stage of the run and prints them through a {@link ProgressTracker} on stderr.
 *
 * <p>A job is counted under its job group without the {@code lopper-} prefix ({@code lopper-sweep}:
 * "sweep", {@code lopper-verify}: "verification"); a job without a group under the run stage
 * being timed when it started (e.g. "data"), else "spark".
 *
 * <pre>{@code
 * ConsoleProgress progress = ConsoleProgress.attach(spark.sparkContext(), System.err, timings::current);
 * ...
 * progress.detach();
 * }</pre>
 */
public final class ConsoleProgress extends SparkListener {

  /** In plain mode, the longest silence while tasks keep finishing. */
  static final long HEARTBEAT_MILLIS = 30_000;

  private final SparkContext context;
  private final ProgressTracker tracker;
  private final Supplier<String> runStage;

  private ConsoleProgress(SparkContext context, ProgressTracker tracker, Supplier<String> runStage) {
    this.context = context;
    this.tracker = tracker;
    this.runStage = runStage;
  }

  /**
   * Starts printing progress on {@code err}: one rewritten line when the process has a console
   * ({@code System.console() != null}), plain lines otherwise.
   *
   * @param runStage the run stage being timed now, or null (labels jobs without a group)
   */
  public static ConsoleProgress attach(SparkContext context, PrintStream err, Supplier<String> runStage) {
    return attach(context, err, System.console() != null, HEARTBEAT_MILLIS, runStage);
  }

  /** As {@link #attach(SparkContext, PrintStream, Supplier)}, with the mode and heartbeat given. */
  static ConsoleProgress attach(SparkContext context, PrintStream err, boolean terminal, long heartbeatMillis,
      Supplier<String> runStage) {
    ConsoleProgress progress = new ConsoleProgress(context, new ProgressTracker(err, terminal, heartbeatMillis),
        runStage);
    context.addSparkListener(progress);
    return progress;
  }

  /** Stops listening and ends the terminal line. */
  public void detach() {
    context.removeSparkListener(this);
    synchronized (tracker) {
      tracker.close();
    }
  }

  /** The label of a job: its group without {@code lopper-}, else the run stage, else "spark". */
  static String label(String jobGroup, String runStage) {
    if (jobGroup != null && !jobGroup.isEmpty()) {
      String name = jobGroup.startsWith("lopper-") ? jobGroup.substring("lopper-".length()) : jobGroup;
      return name.equals("verify") ? "verification" : name;
    }
    return runStage != null ? runStage : "spark";
  }

  @Override
  public void onJobStart(SparkListenerJobStart event) {
    String group = event.properties() == null ? null : event.properties().getProperty("spark.jobGroup.id");
    int tasks = 0;
    List<Integer> stageIds = new ArrayList<>();
    for (StageInfo stage : CollectionConverters.asJava(event.stageInfos())) {
      tasks += stage.numTasks();
      stageIds.add(stage.stageId());
    }
    String label = label(group, runStage == null ? null : runStage.get());
    synchronized (tracker) {
      tracker.jobStarted(event.jobId(), label, tasks, stageIds, event.time());
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd event) {
    long time = event.taskInfo() == null ? System.currentTimeMillis() : event.taskInfo().finishTime();
    boolean successful = event.taskInfo() != null && event.taskInfo().successful();
    synchronized (tracker) {
      tracker.taskEnded(event.stageId(), successful, time);
    }
  }

  @Override
  public void onJobEnd(SparkListenerJobEnd event) {
    synchronized (tracker) {
      tracker.jobEnded(event.jobId(), event.time());
    }
  }
}
