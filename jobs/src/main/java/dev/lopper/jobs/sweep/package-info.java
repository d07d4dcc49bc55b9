/**
 * The sensitivity sweep on Spark: work units of (data partition × tensor group), partial tallies
 * merged exactly on the driver, and the sensitivity table.
 */
package dev.lopper.jobs.sweep;
