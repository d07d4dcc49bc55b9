package dev.lopper.jobs.pipeline;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;

/**
 * The local file system under scheme {@code counted://}, recording every {@link #open}: whether it
 * happened inside a Spark task and how many bytes were read through it. In local mode the driver and
 * the executor share this JVM, so one static record sees both.
 */
public final class CountingFileSystem extends SchemedLocalFileSystem {

  /**
   * One call to {@link #open}: the path (without scheme), whether a Spark task made it, the bytes read
   * through it so far, and if not in a task the caller's stack (to name the culprit when a test fails).
   */
  public record Open(String path, boolean inTask, AtomicLong bytes, String stack) {
    @Override
    public String toString() {
      return path + ": " + bytes + " bytes " + (inTask ? "in a task" : "on the driver, from\n" + stack);
    }
  }

  static final List<Open> OPENS = new CopyOnWriteArrayList<>();

  public CountingFileSystem() {
    super("counted");
  }

  @Override
  public FSDataInputStream open(Path f, int bufferSize) throws IOException {
    boolean inTask = TaskContext.get() != null;
    String stack = null;
    if (!inTask) {
      StringBuilder frames = new StringBuilder();
      for (StackTraceElement frame : new Throwable().getStackTrace()) {
        frames.append("\tat ").append(frame).append('\n');
      }
      stack = frames.toString();
    }
    Open open = new Open(f.toUri().getPath(), inTask, new AtomicLong(), stack);
    OPENS.add(open);
    return new FSDataInputStream(new Counted(super.open(f, bufferSize), open.bytes()));
  }

  /** A stream that adds the bytes read through it to a counter; unbuffered, so the count is what the reader asked. */
  private static final class Counted extends FSInputStream {
    private final FSDataInputStream in;
    private final AtomicLong bytes;

    Counted(FSDataInputStream in, AtomicLong bytes) {
      this.in = in;
      this.bytes = bytes;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        bytes.incrementAndGet();
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        bytes.addAndGet(n);
      }
      return n;
    }

    @Override
    public void seek(long pos) throws IOException {
      in.seek(pos);
    }

    @Override
    public long getPos() throws IOException {
      return in.getPos();
    }

    @Override
    public boolean seekToNewSource(long targetPos) {
      return false;
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
