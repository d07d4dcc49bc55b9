package dev.lopper.jobs.output;

/**
 * A file a run wrote, as listed in its manifest: on object stores, where the final rename is a copy,
 * a reader can check that every listed file has arrived.
 *
 * @param path relative to the run directory
 * @param bytes its size
 */
public record OutputFile(String path, long bytes) {}
