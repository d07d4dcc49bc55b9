/**
 * Evaluation on ONNX Runtime: the process-wide environment ({@link dev.lopper.eval.OrtRuntime}),
 * sessions for the dense model and for pruned variants that share the dense weights
 * ({@link dev.lopper.eval.Evaluator}), and their outputs ({@link dev.lopper.eval.Logits}).
 */
package dev.lopper.eval;
