/**
 * Pruning masks: which positions of a weight tensor are pruned ({@link dev.lopper.mask.Mask}),
 * ordered sets of them keyed by tensor name ({@link dev.lopper.mask.MaskSet}), applying them to
 * weights, summarising them as a table ({@link dev.lopper.mask.MaskSummaryRow}) and storing them as safetensors {@code BOOL} tensors with
 * PyTorch's meaning (1 = kept, 0 = pruned).
 */
package dev.lopper.mask;
