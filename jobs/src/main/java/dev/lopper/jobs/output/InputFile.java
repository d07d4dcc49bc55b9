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
 * <p>Computed in two steps so that a data set's files can be read where its other reads happen: {@link
 * #list} lists the files (no file is opened), each file's SHA-256 is computed wherever suits the caller
 * ({@link HadoopFiles#sha256}: on the driver in {@link #of}, in Spark tasks for the data), and {@link
 * Listing#combine} makes the input from them.
 *
 * @param role what the file is: {@code model}, {@code weights}, {@code data} or {@code calibration}
 * @param path the path as configured
 * @param bytes its size; for a directory, the summed size of its data files
 * @param sha256 SHA-256 of the file's bytes as lower-case hex; for a directory, SHA-256 of the lines
 *     {@code <relative path>\t<sha256 of the file>\n} over its data files sorted by relative path
 *     (data files: every file whose name does not start with {@code _} or {@code .}, as Spark and
 *     Hadoop skip them)
 */
public record InputFile(String role, String path, long bytes, String sha256) {

  /** Reads {@code path} (a file or a directory) on this JVM and records its size and checksum. */
  public static InputFile of(String role, String path, Configuration conf) {
    Listing listing = list(role, path, conf);
    return listing.combine(listing.files().stream().map(file -> HadoopFiles.sha256(file, conf)).toList());
  }

  /**
   * Lists the files whose bytes make the checksum of {@code path}: the file itself, or a directory's
   * data files sorted by relative path. Opens no file.
   *
   * @throws InvalidInputException when {@code path} does not exist
   */
  public static Listing list(String role, String path, Configuration conf) {
    FileSystem fs = HadoopFiles.fileSystem(path, conf);
    Path root = new Path(path);
    try {
      FileStatus status = fs.getFileStatus(root);
      if (!status.isDirectory()) {
        return new Listing(role, path, false, List.of(status.getPath().toString()), List.of(""), status.getLen());
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
      long bytes = 0;
      for (LocatedFileStatus file : files) {
        bytes += file.getLen();
      }
      return new Listing(role, path, true, files.stream().map(f -> f.getPath().toString()).toList(),
          files.stream().map(f -> f.getPath().toUri().getPath().substring(prefix.length())).toList(), bytes);
    } catch (FileNotFoundException e) {
      throw new InvalidInputException(path + ": no such file or directory");
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * The files of an input, before their checksums are known.
   *
   * @param role the input's role
   * @param path the path as configured
   * @param directory whether {@code path} is a directory
   * @param files the files to read, fully qualified, in the order of the checksum
   * @param relatives each file's path relative to {@code path} (one empty string for a single file)
   * @param bytes the summed size of {@code files}
   */
  public record Listing(String role, String path, boolean directory, List<String> files, List<String> relatives,
      long bytes) {

    public Listing {
      files = List.copyOf(files);
      relatives = List.copyOf(relatives);
    }

    /** The input, given the SHA-256 (hex) of each of {@link #files}, in their order. */
    public InputFile combine(List<String> fileSha256) {
      if (fileSha256.size() != files.size()) {
        throw new IllegalArgumentException(path + ": " + files.size() + " files listed, received "
            + fileSha256.size() + " checksums");
      }
      if (!directory) {
        return new InputFile(role, path, bytes, fileSha256.get(0));
      }
      MessageDigest digest;
      try {
        digest = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      for (int i = 0; i < files.size(); i++) {
        String line = relatives.get(i) + "\t" + fileSha256.get(i) + "\n";
        digest.update(line.getBytes(StandardCharsets.UTF_8));
      }
      return new InputFile(role, path, bytes, HexFormat.of().formatHex(digest.digest()));
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
