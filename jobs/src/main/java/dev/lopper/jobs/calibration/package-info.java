/**
 * Calibration on Spark: the statistics of the activations entering every prunable tensor's consumer
 * ({@link dev.lopper.calibration.InputStatistics}), gathered by tasks on fixed chunks of the
 * calibration rows and merged in an order fixed by the chunks' indices, so that the numbers do not
 * depend on the partitioning; and the groups in which sequential calibration proceeds.
 */
package dev.lopper.jobs.calibration;
