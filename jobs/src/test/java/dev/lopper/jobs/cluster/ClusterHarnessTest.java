package dev.lopper.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cluster harness's parts that need no cluster: argument files, classpath lists, leftover cleanup. */
class ClusterHarnessTest {
  @TempDir Path dir;

  @Test
  void argumentFileReachesTheProgramUnchanged() throws Exception {
    // The java launcher itself decodes the file: a one-file source program prints what it received.
    Path echo = Files.writeString(dir.resolve("Echo.java"),
        "public class Echo { public static void main(String[] a) { for (String s : a) System.out.println(\"[\" + s + \"]\"); } }");
    List<String> args = List.of("plain", "with space", "quote\"inside", "back\\slash", "C:\\dir\\", "#hash", "");
    List<String> command = new java.util.ArrayList<>(List.of(echo.toString()));
    command.addAll(args);
    Path argFile = ArgFile.write(dir.resolve("echo.args"), command);

    Process java = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "@" + argFile).redirectErrorStream(true).start();
    String out = new String(java.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(java.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, java.exitValue(), out);
    assertEquals(args.stream().map(a -> "[" + a + "]").collect(Collectors.toList()), out.lines().collect(Collectors.toList()));
  }

  @Test
  void sparkHomeGetsSparksJarsAndTheApplicationShipsItsOwn() {
    List<String> spark = names(BuildClasspath.sparkJars());
    List<String> app = names(BuildClasspath.applicationOnlyJars());
    for (String jar : List.of("spark-core_2.13-4.0.4.jar", "spark-sql_2.13-4.0.4.jar", "scala-library-2.13.16.jar",
        "hadoop-client-api-3.4.1.jar", "hadoop-client-runtime-3.4.1.jar", "jackson-databind-2.18.6.jar")) {
      assertTrue(spark.contains(jar), jar + " missing from Spark's jars " + spark);
      assertFalse(app.contains(jar), jar + " is Spark's, not the application's");
    }
    for (String jar : List.of("onnxruntime-1.29.0.jar", "nd4j-api-1.0.0-M2.1.jar",
        "nd4j-native-1.0.0-M2.1-linux-x86_64.jar", "javacpp-1.5.7.jar", "openblas-0.3.19-1.5.7-linux-x86_64.jar")) {
      assertTrue(app.contains(jar), jar + " missing from the application's jars " + app);
      assertFalse(spark.contains(jar), jar + " would hide a fat jar that lacks it");
    }
    assertTrue(spark.stream().noneMatch(n -> n.startsWith("junit-") || n.startsWith("lopper-")), spark::toString);
  }

  @Test
  void leftoverCleanupKillsOnlyProcessesThatNameTheWorkDirectory() throws IOException, InterruptedException {
    Path workDir = Files.createDirectories(dir.resolve("cluster"));
    Path elsewhere = Files.createDirectories(dir.resolve("cluster-other"));
    // Each command line names a file, as a Spark process of the test cluster names its argument file.
    Path oursFile = Files.writeString(Files.createDirectories(workDir.resolve("logs")).resolve("master.args"), "");
    Path foreignFile = Files.writeString(elsewhere.resolve("master.args"), "");
    Process ours = new ProcessBuilder("tail", "-f", oursFile.toString()).start();
    Process foreign = new ProcessBuilder("tail", "-f", foreignFile.toString()).start();
    try {
      assertEquals(1, StandaloneCluster.killLeftovers(workDir));
      assertTrue(ours.waitFor(10, TimeUnit.SECONDS));
      assertTrue(foreign.isAlive());
    } finally {
      ours.destroyForcibly();
      foreign.destroyForcibly();
    }
  }

  @Test
  void refusesAWorkDirectoryThatIsNotEmpty() throws IOException {
    Files.writeString(dir.resolve("something"), "x");
    assertThrows(IllegalArgumentException.class, () -> StandaloneCluster.start(dir, 1, 1, "1g"));
  }

  private static List<String> names(List<Path> jars) {
    return jars.stream().map(p -> p.getFileName().toString()).collect(Collectors.toList());
  }
}
