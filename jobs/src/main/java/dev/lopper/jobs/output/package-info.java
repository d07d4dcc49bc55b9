/**
 * A run's outputs: the {@link dev.lopper.jobs.output.RunDirectory} written atomically through the
 * Hadoop FileSystem API, and the {@link dev.lopper.jobs.output.Manifest} that records the run and is
 * written last, the {@link dev.lopper.jobs.output.OutputLock} that lets one run at a time write an
 * output, and the {@link dev.lopper.jobs.output.Checkpoint} of finished work units that a run started
 * again after its driver died reuses.
 */
package dev.lopper.jobs.output;
