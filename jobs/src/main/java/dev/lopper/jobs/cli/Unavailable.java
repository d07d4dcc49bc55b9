package dev.lopper.jobs.cli;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.Set;
import org.apache.hadoop.ipc.RemoteException;

/**
 * Which failures mean "a service Lopper needs could not be reached, retry later" rather than a bug
 * or bad input: a connection refused, timed out or routed nowhere, a host name that does not
 * resolve, and an HDFS namenode that answers it is in safe mode or standby. A scheduler retries
 * these ({@link ExitCode#UNAVAILABLE}) instead of paging someone.
 */
final class Unavailable {

  /** Server-side exceptions (HDFS, by class name: the client has no class for them) that mean "later". */
  private static final Set<String> REMOTE = Set.of("SafeModeException", "StandbyException", "RetriableException");

  private Unavailable() {}

  /**
   * The cause in {@code e}'s chain that makes it an unavailability, if any; Spark and Lopper wrap
   * the client's exception, so the whole chain is searched.
   */
  static Optional<Throwable> cause(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConnectException || t instanceof NoRouteToHostException || t instanceof UnknownHostException
          || t instanceof SocketTimeoutException) {
        return Optional.of(t);
      }
      if (t instanceof RemoteException remote && REMOTE.contains(simpleName(remote.getClassName()))) {
        return Optional.of(t);
      }
      if (REMOTE.contains(t.getClass().getSimpleName())) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  /**
   * One line for people: the outermost message (Lopper's names the key and path), then the cause
   * when that message does not already say it.
   */
  static String describe(Throwable e, Throwable cause) {
    String what = e.getMessage() == null ? e.toString() : e.getMessage();
    String why = cause.getClass().getName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    String line = what.contains(cause.getClass().getName()) ? what : what + " (" + why + ")";
    return line.replaceAll("\\s*\\R\\s*", " ");
  }

  private static String simpleName(String className) {
    return className == null ? "" : className.substring(className.lastIndexOf('.') + 1);
  }
}
