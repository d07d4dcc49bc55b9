package dev.lopper.jobs.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.fixtures.SampleData;
import dev.lopper.jobs.cli.ExitCode;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.Manifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data's checksum in the manifest is computed by Spark tasks, not by the driver: counted through
 * {@link CountingFileSystem}, the driver reads no more of the data than one Parquet footer (the schema,
 * read on purpose), tasks read the files, and the checksum equals one computed here from the files' bytes.
 */
class DataChecksumsTest {
  @TempDir Path dir;

  @Test
  void driverReadsNoDataFileAndTheManifestHasTheFilesSha256() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.copy(Path.of(SampleData.path("digits-val.parquet")), data.resolve("part-0.parquet"));
    Files.copy(Path.of(SampleData.path("digits-val.parquet")), data.resolve("part-1.parquet"));
    Files.writeString(data.resolve("_SUCCESS"), "");
    CountingFileSystem.OPENS.clear();

    RunLopper run = RunLopper.run("sensitivity", "--model", SampleData.path("digits-mlp.onnx"),
        "--data", "counted://" + data, "--features", "features", "--label", "label",
        "--out", dir.resolve("out").toString(),
        "--set", "spark.conf.spark.hadoop.fs.counted.impl=" + CountingFileSystem.class.getName(),
        "--set", "spark.conf.spark.hadoop.fs.counted.impl.disable.cache=true");

    assertEquals(ExitCode.SUCCESS, run.exit(), run.stderr());
    Manifest m = Manifest.read(dir.resolve("out/manifest.json").toString(), new Configuration());
    List<CountingFileSystem.Open> dataOpens = CountingFileSystem.OPENS.stream()
        .filter(o -> o.path().startsWith(data.toString())).toList();
    assertTrue(dataOpens.stream().anyMatch(o -> o.path().endsWith("part-1.parquet")), dataOpens.toString());
    // The driver reads one Parquet footer (ValidationData: the schema without a Spark job), no rows:
    // at most the file's tail of 8 bytes and the footer it points to.
    List<CountingFileSystem.Open> onDriver = dataOpens.stream().filter(o -> !o.inTask()).toList();
    long driverBytes = onDriver.stream().mapToLong(o -> o.bytes().get()).sum();
    assertTrue(driverBytes <= 8 + footerLength(data.resolve("part-0.parquet")), onDriver.toString());
    assertTrue(onDriver.stream().allMatch(o -> o.path().endsWith("part-0.parquet")), onDriver.toString());
    long fileBytes = Files.size(data.resolve("part-0.parquet"));
    assertTrue(dataOpens.stream().filter(o -> o.inTask() && o.path().endsWith("part-1.parquet"))
        .anyMatch(o -> o.bytes().get() == fileBytes), "a task read the whole file for its checksum: " + dataOpens);
    System.out.println("driver read " + driverBytes + " of " + 2 * fileBytes + " data bytes; opens: "
        + onDriver.size() + " on the driver, " + (dataOpens.size() - onDriver.size()) + " in tasks");

    InputFile input = m.inputs().stream().filter(i -> i.role().equals("data")).findFirst().orElseThrow();
    String lines = "part-0.parquet\t" + sha256(Files.readAllBytes(data.resolve("part-0.parquet"))) + "\n"
        + "part-1.parquet\t" + sha256(Files.readAllBytes(data.resolve("part-1.parquet"))) + "\n";
    assertEquals(sha256(lines.getBytes(StandardCharsets.UTF_8)), input.sha256());
    assertEquals(2 * Files.size(data.resolve("part-0.parquet")), input.bytes());
    assertFalse(m.timingsMillis().get("checksums") == null, "the checksums stage is timed");
  }

  /** The length of a Parquet file's footer, from its last 8 bytes (length, little-endian, then PAR1). */
  private static long footerLength(Path parquet) throws IOException {
    byte[] all = Files.readAllBytes(parquet);
    return java.nio.ByteBuffer.wrap(all, all.length - 8, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
