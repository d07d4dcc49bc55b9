package dev.lopper.jobs.pipeline;

import java.io.IOException;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under scheme {@code full://}, refusing to create any file whose name contains
 * {@link #refused} with the error a full local disk gives ({@code No space left on device}), as an output
 * file system that fills up or refuses writes midway through a run would.
 */
public final class FullFileSystem extends SchemedLocalFileSystem {
  /** The name fragment of files whose creation fails; null refuses nothing. */
  static volatile String refused;

  public FullFileSystem() {
    super("full");
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
}
