/**
 * Validation batches: rows of a features column (and optionally an integer label column) gathered
 * into one contiguous off-heap buffer per batch, ready for ONNX Runtime without per-element copies.
 *
 * <p>{@link dev.lopper.data.BatchBuilder} is the one place that turns rows into batches;
 * {@link dev.lopper.data.Batch} holds the result as Arrow vectors.
 */
package dev.lopper.data;
