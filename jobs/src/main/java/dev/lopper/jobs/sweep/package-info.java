/**
 * The sensitivity sweep on Spark: work units of (data partition × task group of swept items, each a
 * tensor or a channel group), partial tallies merged exactly on the driver, and the sensitivity
 * table with its rows ({@link dev.lopper.jobs.sweep.SensitivityRow}).
 */
package dev.lopper.jobs.sweep;
