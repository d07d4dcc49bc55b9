package dev.lopper.jobs.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputLockTest {
  private static final Configuration CONF = new Configuration();

  @TempDir
  Path dir;

  private String output() {
    return dir.resolve("runs/nightly").toString();
  }

  private Path lockFile() {
    return Path.of(OutputLock.lockPath(output()));
  }

  private void writeLock(String host, long pid) throws Exception {
    Files.createDirectories(lockFile().getParent());
    Files.writeString(lockFile(), "{\"run_id\":\"20261207T010000Z-deadbeef\",\"host\":\"" + host + "\",\"pid\":" + pid
        + ",\"started\":\"2026-12-07T01:00:00Z\"}", StandardCharsets.UTF_8);
  }

  @Test
  void aSecondRunIsRefusedNamingTheHolderUntilTheFirstReleases() {
    List<String> warnings = new ArrayList<>();
    OutputLock first = OutputLock.acquire(output(), "run-1", CONF, warnings::add);
    assertTrue(Files.exists(lockFile()), "beside the output: " + lockFile());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> OutputLock.acquire(output(), "run-2", CONF, warnings::add));
    assertTrue(e.getMessage().contains("run run-1") && e.getMessage().contains("pid " + ProcessHandle.current().pid())
        && e.getMessage().contains(lockFile().toString()), e.getMessage());
    first.close();
    assertFalse(Files.exists(lockFile()), "released");
    OutputLock.acquire(output(), "run-2", CONF, warnings::add).close();
    assertEquals(List.of(), warnings);
  }

  @Test
  void ofRunsStartedTogetherExactlyOneHoldsTheLock() throws Exception {
    int runs = 8;
    ExecutorService pool = Executors.newFixedThreadPool(runs);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<OutputLock>> attempts = new ArrayList<>();
    for (int i = 0; i < runs; i++) {
      String id = "run-" + i;
      attempts.add(pool.submit(() -> {
        go.await();
        try {
          return OutputLock.acquire(output(), id, CONF, w -> { });
        } catch (InvalidInputException refused) {
          return null;
        }
      }));
    }
    go.countDown();
    List<OutputLock> held = new ArrayList<>();
    for (Future<OutputLock> f : attempts) {
      if (f.get() != null) {
        held.add(f.get());
      }
    }
    pool.shutdown();
    assertEquals(1, held.size(), "locks held");
    held.forEach(OutputLock::close);
  }

  @Test
  void aLockLeftByADeadProcessOnThisHostIsTakenOver() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    writeLock(InetAddress.getLocalHost().getHostName(), gone.pid());
    List<String> warnings = new ArrayList<>();
    OutputLock.acquire(output(), "run-2", CONF, warnings::add).close();
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("20261207T010000Z-deadbeef") && warnings.get(0).contains("no process"),
        warnings.get(0));
  }

  @Test
  void aLiveProcessOnThisHostKeepsItsLock() throws Exception {
    writeLock(InetAddress.getLocalHost().getHostName(), ProcessHandle.current().pid());
    assertThrows(InvalidInputException.class, () -> OutputLock.acquire(output(), "run-2", CONF, w -> { }));
  }

  @Test
  void anotherHostsLockIsStaleOnlyWhenUntouchedLongEnough() throws Exception {
    writeLock("elsewhere.invalid", 4242);
    assertThrows(InvalidInputException.class, () -> OutputLock.acquire(output(), "run-2", CONF, w -> { }),
        "touched just now");
    Files.setLastModifiedTime(lockFile(), FileTime.from(Instant.now().minus(OutputLock.STALE_AFTER)
        .minus(Duration.ofMinutes(1))));
    List<String> warnings = new ArrayList<>();
    OutputLock.acquire(output(), "run-2", CONF, warnings::add).close();
    assertTrue(warnings.get(0).contains("untouched for"), warnings.toString());
  }
}
