/**
 * What Spark tasks share inside an executor JVM: models loaded once per JVM, Arrow memory, and
 * the Hadoop configuration shipped from the driver.
 */
package dev.lopper.jobs.spark;
