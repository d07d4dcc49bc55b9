/**
 * Lopper's Spark side: the seam between the command line and the pipeline ({@link
 * dev.lopper.jobs.RunStages}, with what a run is given and gives back), and one package per part of
 * a run: the pipeline's steps, configuration, command line, data, sweep, allocation, verification,
 * run directory and report.
 */
package dev.lopper.jobs;
