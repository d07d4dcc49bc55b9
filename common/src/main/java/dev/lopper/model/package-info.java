/**
 * Models: loading ONNX graphs and their weights (embedded, external data, safetensors), finding the
 * prunable tensors (and listing them, {@link dev.lopper.model.PrunableTensorRow}), and writing pruned models that other tools load.
 */
package dev.lopper.model;
