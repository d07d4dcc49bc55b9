package dev.lopper.jobs.config;

/**
 * Where a run writes (keys {@code output.*}).
 *
 * @param dir the run directory, or with {@code nameByDate} the directory holding the dated run directories
 * @param overwrite true to replace an existing run directory
 * @param nameByDate true to name each run's directory by date inside {@code dir}
 *     ({@code dev.lopper.jobs.output.DatedRuns})
 */
public record OutputConfig(String dir, boolean overwrite, boolean nameByDate) {}
