/**
 * Evaluation on ONNX Runtime: the process-wide environment ({@link dev.lopper.eval.OrtRuntime});
 * the evaluator of one model ({@link dev.lopper.eval.Evaluator}, built with
 * {@link dev.lopper.eval.EvaluatorOptions}), which shares the dense weights among its sessions for
 * the dense model and pruned variants ({@link dev.lopper.eval.VariantSession}), and their outputs
 * ({@link dev.lopper.eval.Logits}); graph cuts for prefix reuse ({@link dev.lopper.eval.GraphCut}),
 * made ready to evaluate ({@link dev.lopper.eval.PreparedCut}) with their activations computed by a
 * prefix session or by the dense pass ({@link dev.lopper.eval.CutActivations}; package-private
 * {@code DensePass} and {@code Activation}); one sweep unit
 * ({@link dev.lopper.eval.TensorSweep}); the capture of inner values for calibration
 * ({@link dev.lopper.eval.ActivationCapture}), from the graph's inputs or from values held between
 * sessions ({@link dev.lopper.eval.HeldValue}) along the segments of sequential calibration
 * ({@link dev.lopper.eval.GraphSegments}), which also cut the evaluator's replacement probe short.
 */
package dev.lopper.eval;
