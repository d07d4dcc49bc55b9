package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The executor JVM options Lopper's driver sets. That executors launched on a standalone cluster
 * really get them is checked by SweepOnClusterIT (the launched command lines).
 */
class SparkSessionsTest {

  @Test
  void executorsGetC1OnlyAfterTheUsersOwnOptions() {
    assertEquals("-XX:TieredStopAtLevel=1", SparkSessions.executorOptions(null, null));
    assertEquals("-XX:TieredStopAtLevel=1", SparkSessions.executorOptions("  ", null));
    assertEquals("-Dx=1 -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        SparkSessions.executorOptions(" -Dx=1 -XX:+UseSerialGC ", null));
    assertEquals("-Dx=1 -XX:TieredStopAtLevel=1", SparkSessions.executorOptions("-Dx=1", "-Xss4m"));
  }

  @Test
  void aJitChosenByTheUserOrTheAdministratorIsLeftAlone() {
    assertNull(SparkSessions.executorOptions("-XX:TieredStopAtLevel=4", null));
    assertNull(SparkSessions.executorOptions("-Dx=1 -XX:-TieredCompilation", null));
    assertNull(SparkSessions.executorOptions(null, "-XX:TieredStopAtLevel=4"));
    assertNull(SparkSessions.executorOptions("-Dx=1", "-XX:+TieredCompilation"));
  }

  @Test
  void onlyExecutorsInJvmsOfTheirOwnAreConcerned() {
    assertFalse(SparkSessions.executorsOfTheirOwn("local"));
    assertFalse(SparkSessions.executorsOfTheirOwn("local[*]"));
    assertFalse(SparkSessions.executorsOfTheirOwn("local[2, 3]"));
    assertTrue(SparkSessions.executorsOfTheirOwn("local-cluster[2, 1, 1024]"));
    assertTrue(SparkSessions.executorsOfTheirOwn("spark://127.0.0.1:7077"));
    assertTrue(SparkSessions.executorsOfTheirOwn("yarn"));
    assertTrue(SparkSessions.executorsOfTheirOwn("k8s://https://example:6443"));
  }
}
