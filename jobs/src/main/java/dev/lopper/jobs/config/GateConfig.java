package dev.lopper.jobs.config;

/**
 * The quality gate (keys {@code gate.*}).
 *
 * @param maxDrop the largest allowed verified drop of the decision metric, or null for no gate
 */
public record GateConfig(Double maxDrop) {

  /** True when a maximum drop is configured. */
  public boolean enabled() {
    return maxDrop != null;
  }
}
