/**
 * A run's outputs: the {@link dev.lopper.jobs.output.RunDirectory} written atomically through the
 * Hadoop FileSystem API, and the {@link dev.lopper.jobs.output.Manifest} that records the run and is
 * written last.
 */
package dev.lopper.jobs.output;
