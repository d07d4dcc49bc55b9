/** Verification of an emitted pruned model on the whole validation set, on Spark. */
package dev.lopper.jobs.verify;
