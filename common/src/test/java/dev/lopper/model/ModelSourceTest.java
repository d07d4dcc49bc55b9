package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.URI;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

class ModelSourceTest {
  private final Configuration conf = new Configuration();

  @Test
  void qualifiedResolvesRelativePathsAgainstTheWorkingDirectory() {
    ModelSource source = new ModelSource("data/m.onnx", "data/m.safetensors").qualified(conf);
    Path cwd = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    // Hadoop's local file system resolves against the JVM's working directory, as java.nio does.
    assertEquals(cwd.resolve("data/m.onnx").toUri().getPath(), URI.create(source.onnxPath()).getPath());
    assertEquals("file", URI.create(source.onnxPath()).getScheme());
    assertEquals(cwd.resolve("data/m.safetensors").toUri().getPath(),
        URI.create(source.weightsPath()).getPath());
  }

  @Test
  void qualifiedKeepsQualifiedPathsAndMissingWeights() {
    ModelSource source = ModelSource.onnx("file:/models/m.onnx").qualified(conf);
    assertEquals("file:/models/m.onnx", source.onnxPath());
    assertNull(source.weightsPath());
    assertEquals("file:/models/m.onnx", ModelSource.onnx("/models/m.onnx").qualified(conf).onnxPath());
  }
}
