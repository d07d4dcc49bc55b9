package dev.lopper.jobs.config;

import java.util.List;
import java.util.regex.Pattern;

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
    return include.stream().anyMatch(g -> globMatches(g, tensor))
        && exclude.stream().noneMatch(g -> globMatches(g, tensor));
  }

  /** Whether {@code name} matches {@code glob}: {@code *} is any run of characters, {@code ?} one character. */
  public static boolean globMatches(String glob, String name) {
    StringBuilder regex = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (char c : glob.toCharArray()) {
      if (c == '*' || c == '?') {
        regex.append(Pattern.quote(literal.toString())).append(c == '*' ? ".*" : ".");
        literal.setLength(0);
      } else {
        literal.append(c);
      }
    }
    regex.append(Pattern.quote(literal.toString()));
    return Pattern.compile(regex.toString(), Pattern.DOTALL).matcher(name).matches();
  }
}
