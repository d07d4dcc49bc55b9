/**
 * Metrics from additive partial results: a {@link dev.lopper.metrics.Tally} per (variant, rows)
 * holds integer counts, a confusion matrix and {@link dev.lopper.metrics.ExactSum}s, merges exactly
 * in any order, and yields {@link dev.lopper.metrics.Metrics} (accuracy, top-5, cross-entropy,
 * macro precision/recall/F1, KL divergence from the dense model); {@link
 * dev.lopper.metrics.MetricValues} are the metric columns of a table row.
 */
package dev.lopper.metrics;
