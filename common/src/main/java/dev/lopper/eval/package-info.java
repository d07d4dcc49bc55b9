/**
 * Evaluation on ONNX Runtime: the process-wide environment ({@link dev.lopper.eval.OrtRuntime}),
 * sessions for the dense model and for pruned variants that share the dense weights
 * ({@link dev.lopper.eval.Evaluator}), and their outputs ({@link dev.lopper.eval.Logits}); graph
 * cuts for prefix reuse ({@link dev.lopper.eval.GraphCut}, {@link dev.lopper.eval.CutActivations});
 * and one sweep unit ({@link dev.lopper.eval.TensorSweep}).
 */
package dev.lopper.eval;
