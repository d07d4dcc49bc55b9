package dev.lopper.io;

import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Every file Lopper reads or writes goes through here, on the Hadoop FileSystem API, so that
 * {@code file://}, {@code hdfs://} and {@code s3a://} paths (and plain local paths) all work.
 */
public final class HadoopFiles {

  /** Writes a file's content to a stream; may throw {@link IOException}. */
  @FunctionalInterface
  public interface StreamWriter {
    void write(OutputStream out) throws IOException;
  }

  private HadoopFiles() {}

  /** The file system of {@code path}, with the message naming the path when it cannot be reached. */
  public static FileSystem fileSystem(String path, Configuration conf) {
    try {
      return new Path(path).getFileSystem(conf);
    } catch (IOException | IllegalArgumentException e) {
      throw new InvalidInputException(path + ": cannot reach its file system: " + e.getMessage(), e);
    }
  }

  /**
   * {@code path} fully qualified: with its file system's scheme and authority, and a relative path made
   * absolute against that file system's working directory (for local paths, this JVM's working directory).
   * Paths that other JVMs will open, such as executors with working directories of their own, must be
   * qualified on the driver first.
   */
  public static String qualified(String path, Configuration conf) {
    return fileSystem(path, conf).makeQualified(new Path(path)).toString();
  }

  /** True when {@code path} exists. */
  public static boolean exists(String path, Configuration conf) {
    try {
      return fileSystem(path, conf).exists(new Path(path));
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": " + e.getMessage(), e);
    }
  }

  /** Length of the file at {@code path} in bytes; a missing file is bad input. */
  public static long length(String path, Configuration conf) {
    try {
      return fileSystem(path, conf).getFileStatus(new Path(path)).getLen();
    } catch (java.io.FileNotFoundException e) {
      throw new InvalidInputException(path + ": no such file");
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": " + e.getMessage(), e);
    }
  }

  /** Opens {@code path} for reading; a missing file is bad input. */
  public static FSDataInputStream open(String path, Configuration conf) {
    try {
      return fileSystem(path, conf).open(new Path(path));
    } catch (java.io.FileNotFoundException e) {
      throw new InvalidInputException(path + ": no such file");
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot open: " + e.getMessage(), e);
    }
  }

  /** The whole file, which must be smaller than 2 GiB. */
  public static byte[] readAll(String path, Configuration conf) {
    long length = length(path, conf);
    if (length > Integer.MAX_VALUE - 8) {
      throw new InvalidInputException(path + ": " + length + " bytes, too large to read whole (2 GiB)");
    }
    byte[] bytes = new byte[(int) length];
    try (FSDataInputStream in = open(path, conf)) {
      in.readFully(0, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
    }
    return bytes;
  }

  /**
   * The whole file, memory-mapped read-only when it is on the local file system (its pages are read
   * when touched and are the page cache's, not the heap's: parsing a protobuf with aliasing skips
   * over a model's inline weights without reading them), else read into a heap buffer ({@link
   * #readAll}).
   */
  public static ByteBuffer readAllMapped(String path, Configuration conf) {
    length(path, conf); // a missing file is bad input, named as for any read
    Path target = new Path(path);
    FileSystem fs = fileSystem(path, conf);
    if (fs instanceof org.apache.hadoop.fs.LocalFileSystem || fs instanceof org.apache.hadoop.fs.RawLocalFileSystem) {
      java.nio.file.Path local = java.nio.file.Path.of(fs.makeQualified(target).toUri());
      try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(local)) {
        if (channel.size() > Integer.MAX_VALUE - 8) {
          throw new InvalidInputException(path + ": " + channel.size() + " bytes, too large to read whole (2 GiB)");
        }
        return channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, channel.size());
      } catch (IOException e) {
        throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
      }
    }
    return ByteBuffer.wrap(readAll(path, conf));
  }

  /**
   * A fingerprint of the file's bytes for telling files apart within a run, not for security: its
   * CRC-32C and CRC-32 (64 bits between them) and its length, e.g. {@code
   * crc32c=1c291ca3,crc32=2144df1c,bytes=4096}. Both checksums are JVM intrinsics even before the JIT
   * has compiled anything, so a file is fingerprinted at the speed it is read; SHA-256 is not, and
   * with the C1-only JIT of Lopper's executors it is many times slower than the read (docs/design.md,
   * "Large models", has the timings). {@link #sha256} is for what people compare.
   */
  public static String fingerprint(String path, Configuration conf) {
    Fingerprint f = new Fingerprint();
    readThrough(path, conf, f::update);
    return f.toString();
  }

  /** The {@link #fingerprint(String, Configuration)} of {@code bytes}. */
  public static String fingerprint(byte[] bytes) {
    Fingerprint f = new Fingerprint();
    f.update(bytes, 0, bytes.length);
    return f.toString();
  }

  private static final class Fingerprint {
    private final CRC32C crc32c = new CRC32C();
    private final CRC32 crc32 = new CRC32();
    private long bytes;

    void update(byte[] b, int off, int len) {
      crc32c.update(b, off, len);
      crc32.update(b, off, len);
      bytes += len;
    }

    @Override
    public String toString() {
      return String.format("crc32c=%08x,crc32=%08x,bytes=%d", crc32c.getValue(), crc32.getValue(), bytes);
    }
  }

  /** SHA-256 of the file's bytes, as lower-case hex. */
  public static String sha256(String path, Configuration conf) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    readThrough(path, conf, digest::update);
    return HexFormat.of().formatHex(digest.digest());
  }

  /** Where {@link #readThrough} hands each run of bytes it read. */
  private interface Chunks {
    void update(byte[] bytes, int offset, int length);
  }

  /** Reads the file from start to end in 64 KiB runs, handing each to {@code chunks}. */
  private static void readThrough(String path, Configuration conf, Chunks chunks) {
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = open(path, conf)) {
      int n;
      while ((n = in.read(buffer)) > 0) {
        chunks.update(buffer, 0, n);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * Creates the file {@code path} with {@code content} only if no file is there, atomically: of two
   * callers at once, one creates it and the other gets false. Local files use the operating
   * system's exclusive create ({@code O_EXCL}), since Hadoop's local file system checks and then
   * creates; HDFS's create without overwrite is atomic. On object stores without conditional
   * writes two callers can both succeed.
   *
   * @return true when this call created the file, false when one was there
   */
  public static boolean createExclusively(String path, Configuration conf, byte[] content) {
    Path target = new Path(path);
    FileSystem fs = fileSystem(path, conf);
    try {
      if (fs instanceof org.apache.hadoop.fs.LocalFileSystem || fs instanceof org.apache.hadoop.fs.RawLocalFileSystem) {
        java.nio.file.Path local = java.nio.file.Path.of(fs.makeQualified(target).toUri());
        java.nio.file.Files.createDirectories(local.getParent());
        java.nio.file.Files.write(local, content, java.nio.file.StandardOpenOption.CREATE_NEW,
            java.nio.file.StandardOpenOption.WRITE);
        return true;
      }
      try (OutputStream out = fs.create(target, false)) {
        out.write(content);
      }
      return true;
    } catch (java.nio.file.FileAlreadyExistsException | org.apache.hadoop.fs.FileAlreadyExistsException e) {
      return false;
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot create: " + e.getMessage(), e);
    }
  }

  /**
   * Writes a file so that it is either complete or absent: the content goes to a hidden sibling
   * first, which is renamed onto {@code path} only once fully written. An existing file at {@code
   * path} is replaced.
   */
  public static void writeAtomically(String path, Configuration conf, StreamWriter writer) {
    Path target = new Path(path);
    FileSystem fs = fileSystem(path, conf);
    Path temp = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
    try {
      try (OutputStream out = fs.create(temp, false)) {
        writer.write(out);
      }
      if (fs.exists(target) && !fs.delete(target, false)) {
        throw new IOException("cannot replace " + target);
      }
      if (!fs.rename(temp, target)) {
        throw new IOException("cannot rename " + temp + " to " + target);
      }
    } catch (IOException e) {
      deleteQuietly(fs, temp);
      throw new UncheckedIOException(path + ": cannot write: " + e.getMessage(), e);
    } catch (RuntimeException | Error e) {
      deleteQuietly(fs, temp);
      throw e;
    }
  }

  private static void deleteQuietly(FileSystem fs, Path path) {
    try {
      fs.delete(path, false);
    } catch (IOException ignored) {
      // The write already failed; that error is the one to report.
    }
  }
}
