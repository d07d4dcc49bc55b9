/**
 * Calibration statistics: what activation-aware criteria (Wanda, SparseGPT, OWL) know of the data,
 * the per-channel sums and Gram matrices of the activations entering each prunable tensor's
 * consumer, computed on chunks of calibration rows and merged in an order fixed by the rows' global
 * indices, so that any partitioning of the data gives the same numbers bit for bit.
 *
 * <p>The steps, in order: {@link dev.lopper.calibration.ConsumerInputs} says which value each
 * tensor's statistics come from and how its elements become samples
 * ({@link dev.lopper.calibration.ConsumerInput}: rows, columns, or a Conv's im2col patches);
 * {@code dev.lopper.eval.ActivationCapture} captures those values for a batch
 * ({@link dev.lopper.calibration.CapturedValue}); {@link dev.lopper.calibration.ChunkStatistics}
 * turns one chunk's values into {@link dev.lopper.calibration.InputStatistics}, its Gram matrices
 * as {@link dev.lopper.calibration.GramOptions} says (a sample-order Java loop or OpenBLAS); and
 * {@link dev.lopper.calibration.TreeSum} adds chunks along a fixed binary tree over their indices,
 * partial sums per task, merged on the driver.
 */
package dev.lopper.calibration;
