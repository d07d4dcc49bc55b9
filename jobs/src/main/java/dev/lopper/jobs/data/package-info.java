/** The validation set on Spark: checked before any task runs, decoded once per partition. */
package dev.lopper.jobs.data;
