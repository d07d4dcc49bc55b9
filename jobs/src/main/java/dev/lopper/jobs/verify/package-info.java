/**
 * Verification of an emitted pruned model on the whole validation set, on Spark, and the rows of the
 * verification table ({@link dev.lopper.jobs.verify.VerificationRow}).
 */
package dev.lopper.jobs.verify;
