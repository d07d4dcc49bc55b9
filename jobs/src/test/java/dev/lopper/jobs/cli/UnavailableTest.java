package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.jobs.RunContext;
import dev.lopper.jobs.RunOutcome;
import dev.lopper.jobs.RunStages;
import dev.lopper.jobs.config.HadoopClientRetries;
import dev.lopper.jobs.config.LopperConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.ipc.RemoteException;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file system that cannot be reached is "unavailable, retry later" (exit 4, one line), not an
 * internal error, and the Hadoop client gives up within seconds.
 */
class UnavailableTest {

  @TempDir
  Path tmp;

  private final ByteArrayOutputStream stdout = new ByteArrayOutputStream();
  private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

  private ExitCode lopper(String... args) {
    return Lopper.run(args, new Stages(), new PrintStream(stdout, true, StandardCharsets.UTF_8),
        new PrintStream(stderr, true, StandardCharsets.UTF_8));
  }

  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void aNamenodeThatRefusesIsUnavailableWithinSeconds() throws IOException {
    String model = "hdfs://127.0.0.1:" + closedPort() + "/models/m.onnx";
    String data = Files.writeString(tmp.resolve("d.parquet"), "rows").toString();
    long start = System.nanoTime();
    ExitCode exit = lopper("sensitivity", "--model", model, "--data", data, "--out", tmp.resolve("out").toString());
    double seconds = (System.nanoTime() - start) / 1e9;
    String err = stderr.toString(StandardCharsets.UTF_8);
    assertEquals(ExitCode.UNAVAILABLE, exit, err);
    assertEquals(4, exit.code());
    assertEquals(1, err.lines().count(), "one line: " + err);
    assertTrue(err.startsWith("lopper: unavailable: ") && err.contains(model) && err.contains("Connection refused"),
        err);
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    // Hadoop's own defaults retry a refused connection 10 times a second apart.
    assertTrue(seconds < 30, "gave up after " + seconds + " s");
  }

  @Test
  void aHostThatDoesNotResolveIsUnavailable() {
    ExitCode exit = lopper("check", "--model", "hdfs://lopper-test.invalid:8020/m.onnx", "--data",
        "hdfs://lopper-test.invalid:8020/d.parquet", "--out", tmp.resolve("out").toString(), "--format", "json");
    String err = stderr.toString(StandardCharsets.UTF_8);
    assertEquals(ExitCode.UNAVAILABLE, exit, err);
    assertTrue(err.startsWith("lopper: unavailable: ") && err.contains("UnknownHostException"), err);
    String json = stdout.toString(StandardCharsets.UTF_8);
    assertTrue(json.contains("\"UNAVAILABLE\"") && json.contains("4"), json);
  }

  @Test
  void aStandaloneMasterThatDoesNotAnswerIsUnavailableBeforeSparkRetriesIt() throws IOException {
    String model = Files.writeString(tmp.resolve("m.onnx"), "abc").toString();
    String data = Files.writeString(tmp.resolve("d.parquet"), "rows").toString();
    String master = "spark://127.0.0.1:" + closedPort();
    long start = System.nanoTime();
    ExitCode exit = Lopper.run(new String[] {"sensitivity", "--model", model, "--data", data, "--out",
        tmp.resolve("out").toString(), "--master", master, "--quiet"}, new Stages(),
        new PrintStream(stdout, true, StandardCharsets.UTF_8), new PrintStream(stderr, true, StandardCharsets.UTF_8));
    double seconds = (System.nanoTime() - start) / 1e9;
    String err = stderr.toString(StandardCharsets.UTF_8);
    assertEquals(ExitCode.UNAVAILABLE, exit, err);
    String line = err.lines().filter(l -> l.startsWith("lopper: ")).reduce((a, b) -> b).orElse("");
    assertTrue(line.startsWith("lopper: unavailable: ") && line.contains(master) && line.contains("Connection refused"),
        err);
    assertFalse(Files.exists(tmp.resolve("out")), "nothing left");
    // Spark's own client gives up on an unreachable master after three 20 s attempts.
    assertTrue(seconds < 30, "gave up after " + seconds + " s");
  }

  /** Stages that inspect nothing and must never be asked to run: every run here stops before. */
  private static final class Stages implements RunStages<Void> {
    @Override
    public Void inspect(LopperConfig config, Configuration hadoop) {
      return null;
    }

    @Override
    public RunOutcome sensitivity(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      throw new AssertionError("ran without a master");
    }

    @Override
    public RunOutcome prune(SparkSession spark, LopperConfig config, Void inspected, RunContext run) {
      throw new AssertionError("ran without a master");
    }
  }

  @Test
  void safeModeAndStandbyFromTheNamenodeAreUnavailable() {
    RemoteException safeMode = new RemoteException("org.apache.hadoop.hdfs.server.namenode.SafeModeException",
        "Name node is in safe mode.");
    assertTrue(Unavailable.cause(new UncheckedIOException(new IOException("cannot write", safeMode))).isPresent());
    RemoteException standby = new RemoteException("org.apache.hadoop.ipc.StandbyException", "standby");
    assertTrue(Unavailable.cause(standby).isPresent());
    RemoteException denied = new RemoteException("org.apache.hadoop.security.AccessControlException", "denied");
    assertFalse(Unavailable.cause(denied).isPresent(), "a refusal is not an outage");
    assertFalse(Unavailable.cause(new InvalidInputException("data.path: no such file")).isPresent());
  }

  @Test
  void clientRetriesAreBoundedUnlessSomeoneSetThem() {
    Configuration conf = new Configuration();
    conf.set("ipc.client.connect.timeout", "60000");
    HadoopClientRetries.bound(conf);
    assertEquals("60000", conf.get("ipc.client.connect.timeout"), "a user's value is kept");
    assertEquals("2", conf.get("ipc.client.connect.max.retries"));
    assertEquals("2", conf.get("ipc.client.connect.max.retries.on.timeouts"));
    Map<String, String> spark = HadoopClientRetries.sparkSettings(Map.of("spark.hadoop.ipc.client.connect.max.retries",
        "7"));
    assertEquals(Map.of("spark.hadoop.ipc.client.connect.max.retries.on.timeouts", "2",
        "spark.hadoop.ipc.client.connect.timeout", "5000"), spark);
  }
}
