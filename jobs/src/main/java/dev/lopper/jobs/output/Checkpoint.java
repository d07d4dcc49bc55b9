package dev.lopper.jobs.output;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Finished work units of a run, kept on the run's file system so that a run started again after
 * its driver died computes only what is missing. Lives in {@code <output.dir>.checkpoint}, a
 * sibling of the configured output directory (for runs named by date, of {@code output.dir}
 * itself, so the next scheduled run finds it), which the output's lock ({@link OutputLock}) guards
 * like the output. Deleted once the run has committed.
 *
 * <pre>
 * runs/x.checkpoint/
 *   sweep/fingerprint.json   the step's {@link Fingerprint} and notes, written before any unit
 *   sweep/unit-00012         one committed unit: a header tying it to the fingerprint, then its bytes
 * </pre>
 *
 * <p>Every file is written to a hidden temporary name and renamed into place ({@link
 * HadoopFiles#writeAtomically}), so a unit is either committed whole or absent, whenever the driver
 * dies. A step is reused only when its recorded fingerprint equals the run's field for field; a
 * unit only when its header names that fingerprint's digest.
 *
 * <pre>{@code
 * Checkpoint checkpoint = Checkpoint.of("runs/x", Checkpoint.Mode.RESUME, conf, err::println);
 * Checkpoint.Step sweep = checkpoint.open("sweep", fingerprint, Map.of("cores", "4"));
 * for (int unit : plan) { if (!sweep.committed().contains(unit)) { ... sweep.commit(unit, bytes); } }
 * checkpoint.delete();   // after the run's commit
 * }</pre>
 */
public final class Checkpoint {

  /** What a run does with a checkpoint it finds. */
  public enum Mode {
    /** No checkpoint is read or written (tests, and steps run outside the command line). */
    OFF,
    /** Start afresh: an existing checkpoint is discarded, with a warning that says how to reuse it. */
    FRESH,
    /** {@code --resume}: reuse a matching checkpoint; refuse one of another configuration or input (exit 2). */
    RESUME,
    /** Scheduled runs ({@code output.name-by-date}): reuse a matching checkpoint, discard another with a warning. */
    REUSE_IF_MATCHING
  }

  /** The file of a step that records its fingerprint. */
  static final String FINGERPRINT = "fingerprint.json";
  private static final Pattern UNIT = Pattern.compile("unit-(\\d{5,})");
  private static final String HEADER = "lopper-checkpoint-unit\t";

  private final Path root;
  private final Mode mode;
  private final Configuration conf;
  private final Consumer<String> say;

  private Checkpoint(Path root, Mode mode, Configuration conf, Consumer<String> say) {
    this.root = root;
    this.mode = mode;
    this.conf = conf;
    this.say = say;
  }

  /** The checkpoint directory of runs configured with {@code outputDir}: {@code <outputDir>.checkpoint}. */
  public static String pathOf(String outputDir) {
    Path out = new Path(outputDir);
    if (out.getParent() == null) {
      throw new InvalidInputException("output.dir: " + outputDir + " is a root directory; choose a directory below it");
    }
    return new Path(out.getParent(), out.getName() + ".checkpoint").toString();
  }

  /**
   * The checkpoint of runs configured with {@code outputDir}; nothing is read or written until a step is
   * {@link #open}ed.
   *
   * @param say where the checkpoint's console lines go (stderr): what was reused, what was discarded
   */
  public static Checkpoint of(String outputDir, Mode mode, Configuration conf, Consumer<String> say) {
    return new Checkpoint(new Path(pathOf(outputDir)), mode, conf, say);
  }

  /** A checkpoint that reads and writes nothing. */
  public static Checkpoint off() {
    return new Checkpoint(null, Mode.OFF, null, line -> {});
  }

  /** The checkpoint directory, or null when off. */
  public String path() {
    return root == null ? null : root.toString();
  }

  /** What this run does with a checkpoint it finds. */
  public Mode mode() {
    return mode;
  }

  /** Prints a line on the console. */
  public void say(String line) {
    say.accept(line);
  }

  /**
   * Opens the checkpoint of step {@code name} for a run whose results are decided by {@code fingerprint}:
   * reuses what a matching one holds, or starts the step afresh and records {@code fingerprint} and
   * {@code notes} (e.g. how the units were planned, which a resumed run must repeat).
   *
   * @throws InvalidInputException in {@link Mode#RESUME} when the recorded fingerprint differs, naming the
   *     first field that does
   */
  public Step open(String name, Fingerprint fingerprint, Map<String, String> notes) {
    if (mode == Mode.OFF) {
      return new Step(null, fingerprint, notes, Set.of(), false);
    }
    Path dir = new Path(root, name);
    Path recordPath = new Path(dir, FINGERPRINT);
    FileSystem fs = HadoopFiles.fileSystem(root.toString(), conf);
    try {
      Recorded recorded = fs.exists(recordPath) ? read(recordPath) : null;
      Set<Integer> units = recorded == null ? Set.of() : units(fs, dir);
      if (recorded != null) {
        Fingerprint theirs = new Fingerprint(recorded.fingerprint());
        String difference = fingerprint.firstDifference(theirs).orElse(null);
        if (difference == null && mode != Mode.FRESH) {
          return new Step(dir, fingerprint, recorded.notes(), units, true);
        }
        if (difference != null && mode == Mode.RESUME) {
          throw new InvalidInputException("--resume: the " + name + " checkpoint in " + root + " is of another run: "
              + difference + "; run without --resume to start afresh (the checkpoint is then replaced)");
        }
        say.accept("lopper: warning: discarding the " + name + " checkpoint in " + root + " (" + units.size()
            + " units of an interrupted run" + (difference == null ? "); pass --resume to reuse them"
            : ", another configuration or input: " + difference + ")"));
      } else if (mode == Mode.RESUME) {
        say.accept("lopper: --resume: no " + name + " checkpoint in " + root + "; every unit is computed");
      }
      fs.delete(dir, true);
      if (!fs.mkdirs(dir)) {
        throw new IOException("mkdirs returned false");
      }
      byte[] json = Manifest.JSON.writeValueAsBytes(new Recorded(fingerprint.fields(), notes,
          Instant.now().toString()));
      HadoopFiles.writeAtomically(recordPath.toString(), conf, out -> out.write(json));
      return new Step(dir, fingerprint, notes, Set.of(), false);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a checkpoint's fingerprint", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the checkpoint " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Deletes the checkpoint: the run has committed its outputs. A failure only warns; the run succeeded. */
  public void delete() {
    if (root == null) {
      return;
    }
    try {
      HadoopFiles.fileSystem(root.toString(), conf).delete(root, true);
    } catch (FileNotFoundException e) {
      // Never written.
    } catch (IOException | RuntimeException e) {
      say.accept("lopper: warning: cannot delete the checkpoint " + root + " of the committed run: " + e.getMessage());
    }
  }

  private Recorded read(Path record) {
    try {
      return Manifest.JSON.readValue(HadoopFiles.readAll(record.toString(), conf), Recorded.class);
    } catch (IOException | RuntimeException e) {
      // Written atomically, so unreadable means damaged or not ours: its units are not trusted.
      return new Recorded(Map.of("unreadable", record.toString()), Map.of(), null);
    }
  }

  private static Set<Integer> units(FileSystem fs, Path dir) throws IOException {
    Set<Integer> out = new TreeSet<>();
    FileStatus[] files;
    try {
      files = fs.listStatus(dir);
    } catch (FileNotFoundException e) {
      return out;
    }
    for (FileStatus file : files) {
      Matcher m = UNIT.matcher(file.getPath().getName());
      if (m.matches()) {
        out.add(Integer.parseInt(m.group(1)));
      }
    }
    return out;
  }

  /**
   * What {@code fingerprint.json} holds.
   *
   * @param fingerprint the step's fingerprint fields
   * @param notes what the step recorded besides (not compared)
   * @param created when the step was started, ISO-8601 UTC
   */
  record Recorded(Map<String, String> fingerprint, Map<String, String> notes, String created) {
    Recorded {
      fingerprint = fingerprint == null ? Map.of() : new LinkedHashMap<>(fingerprint);
      notes = notes == null ? Map.of() : new LinkedHashMap<>(notes);
    }
  }

  /** One step's units in the checkpoint. */
  public final class Step {
    private final Path dir;
    private final String header;
    private final Map<String, String> notes;
    private final Set<Integer> committed;
    private final boolean resumed;

    private Step(Path dir, Fingerprint fingerprint, Map<String, String> notes, Set<Integer> committed,
        boolean resumed) {
      this.dir = dir;
      this.header = HEADER + fingerprint.digest() + "\n";
      this.notes = Collections.unmodifiableMap(new LinkedHashMap<>(notes));
      this.committed = Collections.unmodifiableSet(new TreeSet<>(committed));
      this.resumed = resumed;
    }

    /** The step's directory, or null when the checkpoint is off. */
    public String path() {
      return dir == null ? null : dir.toString();
    }

    /** True when a matching checkpoint was found: its {@link #notes} and {@link #committed} units are reused. */
    public boolean resumed() {
      return resumed;
    }

    /** The notes recorded when the step was started (this run's, unless {@link #resumed}). */
    public Map<String, String> notes() {
      return notes;
    }

    /** The units committed when the step was opened. */
    public Set<Integer> committed() {
      return committed;
    }

    /**
     * The bytes of committed unit {@code unit}, or null when its file is missing or not of this
     * fingerprint (then it is computed again).
     */
    public byte[] read(int unit) {
      if (dir == null) {
        return null;
      }
      byte[] all;
      try {
        all = HadoopFiles.readAll(file(unit).toString(), conf);
      } catch (RuntimeException e) {
        return null;
      }
      byte[] expected = header.getBytes(StandardCharsets.UTF_8);
      if (all.length < expected.length || !Arrays.equals(all, 0, expected.length, expected, 0, expected.length)) {
        return null;
      }
      return Arrays.copyOfRange(all, expected.length, all.length);
    }

    /** Commits unit {@code unit}: written to a hidden temporary name, then renamed to {@code unit-NNNNN}. */
    public void commit(int unit, byte[] content) {
      if (dir == null) {
        return;
      }
      byte[] head = header.getBytes(StandardCharsets.UTF_8);
      HadoopFiles.writeAtomically(file(unit).toString(), conf, out -> {
        out.write(head);
        out.write(content);
      });
    }

    /**
     * Commits unit {@code unit} as the Java serialization of {@code value}, the form Spark ships task
     * results in: exact for {@code Tally} and {@code ExactSum}, and for the doubles of calibration statistics.
     */
    public void commitObject(int unit, Serializable value) {
      if (dir == null) {
        return;
      }
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(value);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot serialise unit " + unit + " for the checkpoint " + dir, e);
      }
      commit(unit, bytes.toByteArray());
    }

    /**
     * Committed unit {@code unit} as written by {@link #commitObject}, or null when it is missing, not of
     * this fingerprint or unreadable (then it is computed again).
     */
    public <T> T readObject(int unit, Class<T> type) {
      byte[] bytes = read(unit);
      if (bytes == null) {
        return null;
      }
      try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
        return type.cast(in.readObject());
      } catch (IOException | ClassNotFoundException | ClassCastException e) {
        say.accept("lopper: warning: unit " + unit + " of the checkpoint " + dir + " is unreadable (" + e
            + "); it is computed again");
        return null;
      }
    }

    /** Prints a line on the console. */
    public void say(String line) {
      Checkpoint.this.say(line);
    }

    /** The file of unit {@code unit}. */
    Path file(int unit) {
      return new Path(dir, String.format("unit-%05d", unit));
    }
  }
}
