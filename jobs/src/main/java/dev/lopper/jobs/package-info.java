/**
 * Lopper's Spark side: the seam between the command line and the Spark stages ({@link
 * dev.lopper.jobs.RunStages}), and one package per part of a run (configuration, command line,
 * allocation, run directory).
 */
package dev.lopper.jobs;
