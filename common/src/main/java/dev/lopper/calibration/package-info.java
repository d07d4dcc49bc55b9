/**
 * Calibration statistics: what activation-aware criteria (Wanda, SparseGPT, OWL) know of the data,
 * the per-channel sums and Gram matrices of the activations entering each prunable tensor's
 * consumer, computed on chunks of calibration rows and merged in an order fixed by the rows' global
 * indices, so that any partitioning of the data gives the same numbers bit for bit.
 */
package dev.lopper.calibration;
