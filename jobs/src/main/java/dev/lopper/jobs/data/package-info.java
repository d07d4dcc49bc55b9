/**
 * The validation set on Spark: checked before any task runs, decoded once per partition; its
 * SHA-256 computed by tasks, one per file ({@link dev.lopper.jobs.data.DataChecksums}).
 */
package dev.lopper.jobs.data;
