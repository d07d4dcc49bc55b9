/**
 * The sensitivity sweep on Spark: work units of (data partition × task group of swept items, each a
 * tensor or a channel group), partial tallies merged exactly on the driver, and the sensitivity
 * table.
 */
package dev.lopper.jobs.sweep;
