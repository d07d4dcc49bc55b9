package dev.lopper.jobs.config;

/**
 * Where a run writes (keys {@code output.*}).
 *
 * @param dir the run directory
 * @param overwrite true to replace an existing run directory
 * @param nameByDate reserved for naming run directories by date; always false for now
 */
public record OutputConfig(String dir, boolean overwrite, boolean nameByDate) {}
