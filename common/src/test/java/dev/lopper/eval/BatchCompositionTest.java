package dev.lopper.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lopper.data.Batch;
import dev.lopper.data.BatchBuilder;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.model.ModelSource;
import dev.lopper.model.OnnxModel;
import dev.lopper.fixtures.SampleData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A row's logits must not depend on which batch it landed in, or partial results would depend on
 * partitioning: every logit of the sample models, bitwise, at several batch sizes.
 */
class BatchCompositionTest {

  @ParameterizedTest
  @ValueSource(strings = {"digits-mlp.onnx", "digits-cnn.onnx", "digits-resnet.onnx"})
  void logitsAreBitwiseEqualAtEveryBatchSize(String file) {
    OnnxModel model = OnnxModel.load(ModelSource.onnx(SampleData.path(file)), new Configuration());
    Table val = ParquetTables.read(SampleData.path("digits-val.parquet"), new Configuration());
    int features = val.indexOf("features");
    List<float[]> rows = new ArrayList<>();
    for (List<Object> row : val.rows()) {
      rows.add((float[]) row.get(features));
    }
    long[] dims = model.inputs().get(0).dims();
    long[] rowShape = Arrays.copyOfRange(dims, 1, dims.length);
    try (BufferAllocator allocator = new RootAllocator();
         Evaluator evaluator = new Evaluator(model);
         VariantSession session = evaluator.dense()) {
      float[] one = logits(session, rows, rowShape, 1, allocator);
      for (int size : new int[] {7, 64, 100, 255, 256}) {
        float[] batched = logits(session, rows, rowShape, size, allocator);
        assertEquals(one.length, batched.length);
        for (int i = 0; i < one.length; i++) {
          assertEquals(Float.floatToRawIntBits(one[i]), Float.floatToRawIntBits(batched[i]),
              file + ": logit " + i + " at batch size " + size + " differs from batch size 1");
        }
      }
    }
  }

  private static float[] logits(VariantSession session, List<float[]> rows, long[] rowShape,
      int batchSize, BufferAllocator allocator) {
    float[] all = null;
    int at = 0;
    try (BatchBuilder builder = new BatchBuilder(rowShape, batchSize, false, allocator)) {
      for (int r = 0; r < rows.size(); r++) {
        builder.add(rows.get(r));
        if (builder.isFull() || r == rows.size() - 1) {
          try (Batch batch = builder.build()) {
            Logits logits = session.logits(batch);
            if (all == null) {
              all = new float[rows.size() * logits.classes()];
            }
            System.arraycopy(logits.values(), 0, all, at, logits.values().length);
            at += logits.values().length;
          }
        }
      }
    }
    return all;
  }
}
