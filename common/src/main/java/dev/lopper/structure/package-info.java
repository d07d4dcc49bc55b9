/**
 * Structured pruning: which weights must lose the same channel ({@link
 * dev.lopper.structure.ChannelGroup}s found in the ONNX graph by {@link
 * dev.lopper.structure.ModelStructure}: a CNN's channels, a transformer's attention heads and FFN
 * neurons), which of them cannot be pruned structurally and why
 * ({@link dev.lopper.structure.StructureReport}), the channels kept per group ({@link
 * dev.lopper.structure.ChannelSelection}) as masks or as a physically smaller model ({@link
 * dev.lopper.structure.ModelShrinker}), FLAP's bias compensation of removed channels ({@link
 * dev.lopper.structure.BiasCompensation}, consumers seen as {@link
 * dev.lopper.structure.ConsumerColumns}), and parameter and multiply-accumulate counts ({@link
 * dev.lopper.structure.ModelCost}), with the rows of their tables ({@link
 * dev.lopper.structure.StructureRow}, {@link dev.lopper.structure.CostComparisonRow}); ONNX
 * Runtime latency of candidate models ({@link dev.lopper.structure.LatencyProbe}), timed once for
 * the groups that cost alike ({@link dev.lopper.structure.GroupSignature}). Static
 * shapes come from a small shape inference of its own ({@link
 * dev.lopper.structure.ShapeInference}), which also evaluates the integer subgraphs that build a
 * dynamic Reshape's shape. See docs/structured.md.
 */
package dev.lopper.structure;
