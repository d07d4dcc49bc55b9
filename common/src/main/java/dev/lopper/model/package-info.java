/**
 * Models: loading ONNX graphs and their weights (embedded, external data, safetensors), finding the
 * prunable tensors, and writing pruned models that other tools load.
 */
package dev.lopper.model;
