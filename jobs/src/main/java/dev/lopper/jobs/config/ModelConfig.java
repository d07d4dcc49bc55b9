package dev.lopper.jobs.config;

import dev.lopper.model.PrunableTensors;
import java.util.List;

/**
 * Which model to prune and which of its tensors may be pruned (keys {@code model.*}).
 *
 * @param onnx the ONNX model's path
 * @param weights a safetensors file overriding the model's initializers, or null
 * @param include globs of tensor names to sweep ({@code *} any characters, {@code ?} one)
 * @param exclude globs of tensor names never to prune
 */
public record ModelConfig(String onnx, String weights, List<String> include, List<String> exclude) {

  public ModelConfig {
    include = List.copyOf(include);
    exclude = List.copyOf(exclude);
  }

  /** True when {@code tensor} matches one of {@link #include} and none of {@link #exclude}. */
  public boolean selects(String tensor) {
    return include.stream().anyMatch(g -> PrunableTensors.matches(g, tensor))
        && exclude.stream().noneMatch(g -> PrunableTensors.matches(g, tensor));
  }
}
