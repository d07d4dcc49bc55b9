package dev.lopper.jobs.pipeline;

import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under scheme {@code full://}, refusing to create any file whose name contains
 * {@link #refused} with the error a full local disk gives ({@code No space left on device}), as an output
 * file system that fills up or refuses writes midway through a run would.
 */
public final class FullFileSystem extends RawLocalFileSystem {
  /** The name fragment of files whose creation fails; null refuses nothing. */
  static volatile String refused;

  @Override
  public URI getUri() {
    return URI.create("full:///");
  }

  @Override
  public String getScheme() {
    return "full";
  }

  @Override
  public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication, long blockSize,
      Progressable progress) throws IOException {
    refuse(f);
    return super.create(f, overwrite, bufferSize, replication, blockSize, progress);
  }

  private static void refuse(Path f) throws IOException {
    String fragment = refused;
    if (fragment != null && f.getName().contains(fragment)) {
      throw new IOException("No space left on device");
    }
  }

  @Override
  public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize,
      short replication, long blockSize, Progressable progress) throws IOException {
    refuse(f);
    return super.create(f, permission, overwrite, bufferSize, replication, blockSize, progress);
  }

  /**
   * A {@code file:} path: HadoopFiles.createExclusively writes a local file system's files through
   * java.nio, which has no provider for {@code full:}. Creating the lock that way is not refused.
   */
  @Override
  public Path makeQualified(Path path) {
    return new Path("file", null, super.makeQualified(path).toUri().getPath());
  }

  // The local statuses read permissions through java.io.File of the path's URI, which must be file:.
  @Override
  public FileStatus getFileStatus(Path f) throws IOException {
    return plain(super.getFileStatus(f));
  }

  @Override
  public FileStatus[] listStatus(Path f) throws IOException {
    FileStatus[] statuses = super.listStatus(f);
    for (int i = 0; i < statuses.length; i++) {
      statuses[i] = plain(statuses[i]);
    }
    return statuses;
  }

  private static FileStatus plain(FileStatus s) {
    return new FileStatus(s.getLen(), s.isDirectory(), s.getReplication(), s.getBlockSize(),
        s.getModificationTime(), s.getPath());
  }
}
