/**
 * A run as the steps it goes through, each a class taking and returning typed values: {@link
 * dev.lopper.jobs.pipeline.Inspect} (the model, checked on the driver), {@link
 * dev.lopper.jobs.pipeline.LoadData}, {@link dev.lopper.jobs.pipeline.Sweep}, then for {@code
 * prune} a {@link dev.lopper.jobs.pipeline.PruneMethod}'s allocation and emission, {@link
 * dev.lopper.jobs.pipeline.Verify}, {@link dev.lopper.jobs.pipeline.Gate} and {@link
 * dev.lopper.jobs.pipeline.RecordResults}. {@link dev.lopper.jobs.pipeline.Pipeline} calls them in
 * that order, in one method per command.
 */
package dev.lopper.jobs.pipeline;
