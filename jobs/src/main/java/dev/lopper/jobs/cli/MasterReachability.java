package dev.lopper.jobs.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether a standalone cluster's master answers at all, asked before Spark is: Spark's own client
 * retries an unreachable master three times twenty seconds apart and then reports only "Cannot call
 * methods on a stopped SparkContext". One TCP connection per master address, {@value
 * #TIMEOUT_MILLIS} ms each, tells "unavailable, retry later" apart from bad settings in seconds.
 */
final class MasterReachability {

  /** How long one connection attempt may take. */
  static final int TIMEOUT_MILLIS = 5000;

  private MasterReachability() {}

  /**
   * Checks a {@code spark://host:port[,host:port...]} master (any other master is left to Spark):
   * returns when one of its addresses accepts a connection.
   *
   * @throws UncheckedIOException with the last connection failure as its cause when none does
   */
  static void check(String master) {
    if (master == null || !master.startsWith("spark://")) {
      return;
    }
    List<InetSocketAddress> addresses = new ArrayList<>();
    for (String hostPort : master.substring("spark://".length()).split(",")) {
      int colon = hostPort.lastIndexOf(':');
      if (colon <= 0) {
        return; // not host:port: Spark's own parser reports it as a setting to fix
      }
      try {
        addresses.add(InetSocketAddress.createUnresolved(hostPort.substring(0, colon),
            Integer.parseInt(hostPort.substring(colon + 1))));
      } catch (IllegalArgumentException e) {
        return;
      }
    }
    IOException last = null;
    for (InetSocketAddress address : addresses) {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(address.getHostString(), address.getPort()), TIMEOUT_MILLIS);
        return;
      } catch (IOException e) {
        last = e;
      }
    }
    throw new UncheckedIOException("the Spark master " + master + " cannot be reached", last);
  }
}
