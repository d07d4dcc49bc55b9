package dev.lopper.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HadoopFilesTest {
  private final Configuration conf = new Configuration();
  @TempDir Path dir;

  /**
   * The check values of both checksums' catalogues for the bytes "123456789" (CRC-32/ISO-HDLC
   * cbf43926, CRC-32/ISCSI e3069283), for a file read through Hadoop and for bytes in memory.
   */
  @Test
  void fingerprintIsBothStandardChecksumsAndTheLength() throws Exception {
    byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
    Path file = Files.write(dir.resolve("check.bin"), check);
    String expected = "crc32c=e3069283,crc32=cbf43926,bytes=9";
    assertEquals(expected, HadoopFiles.fingerprint(file.toString(), conf));
    assertEquals(expected, HadoopFiles.fingerprint(file.toUri().toString(), conf));
    assertEquals(expected, HadoopFiles.fingerprint(check));
    assertEquals("crc32c=00000000,crc32=00000000,bytes=0", HadoopFiles.fingerprint(new byte[0]));
  }

  /** Files longer than the read buffer, differing in one byte near the end, differ. */
  @Test
  void fingerprintSeesEveryByteOfLargeFiles() throws Exception {
    byte[] a = new byte[(1 << 16) * 3 + 17];
    byte[] b = a.clone();
    b[b.length - 2] = 1;
    Path fa = Files.write(dir.resolve("a.bin"), a);
    Path fb = Files.write(dir.resolve("b.bin"), b);
    assertEquals(HadoopFiles.fingerprint(a), HadoopFiles.fingerprint(fa.toString(), conf));
    assertNotEquals(HadoopFiles.fingerprint(fa.toString(), conf), HadoopFiles.fingerprint(fb.toString(), conf));
  }
}
