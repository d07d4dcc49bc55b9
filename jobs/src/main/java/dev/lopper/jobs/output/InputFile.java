package dev.lopper.jobs.output;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * An input of a run, identified by content.
 *
 * @param role what the file is: {@code model}, {@code weights} or {@code data}
 * @param path the path as configured
 * @param bytes its size; for a directory, the summed size of its data files
 * @param sha256 SHA-256 of the file's bytes as lower-case hex; for a directory, SHA-256 of the lines
 *     {@code <relative path>\t<sha256 of the file>\n} over its data files sorted by relative path
 *     (data files: every file whose name does not start with {@code _} or {@code .}, as Spark and
 *     Hadoop skip them)
 */
public record InputFile(String role, String path, long bytes, String sha256) {

  /** Reads {@code path} (a file or a directory) and records its size and checksum. */
  public static InputFile of(String role, String path, Configuration conf) {
    FileSystem fs = HadoopFiles.fileSystem(path, conf);
    Path root = new Path(path);
    try {
      FileStatus status = fs.getFileStatus(root);
      if (!status.isDirectory()) {
        return new InputFile(role, path, status.getLen(), HadoopFiles.sha256(path, conf));
      }
      List<LocatedFileStatus> files = new ArrayList<>();
      RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
      String prefix = status.getPath().toUri().getPath() + "/";
      while (it.hasNext()) {
        LocatedFileStatus file = it.next();
        if (isDataFile(file.getPath().toUri().getPath().substring(prefix.length()))) {
          files.add(file);
        }
      }
      files.sort(Comparator.comparing((LocatedFileStatus f) -> f.getPath().toUri().getPath()));
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      long bytes = 0;
      for (LocatedFileStatus file : files) {
        String relative = file.getPath().toUri().getPath().substring(prefix.length());
        String line = relative + "\t" + HadoopFiles.sha256(file.getPath().toString(), conf) + "\n";
        digest.update(line.getBytes(StandardCharsets.UTF_8));
        bytes += file.getLen();
      }
      return new InputFile(role, path, bytes, HexFormat.of().formatHex(digest.digest()));
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(path + ": no such file or directory");
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean isDataFile(String relative) {
    for (String part : relative.split("/")) {
      if (part.startsWith("_") || part.startsWith(".")) {
        return false;
      }
    }
    return true;
  }
}
