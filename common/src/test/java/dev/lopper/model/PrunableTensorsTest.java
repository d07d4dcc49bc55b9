package dev.lopper.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import dev.lopper.io.Table;
import dev.lopper.fixtures.SampleData;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

class PrunableTensorsTest {
  private static final Configuration CONF = new Configuration();
  private static final OnnxModel CNN = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-cnn.onnx")), CONF);
  private static final OnnxModel MLP = OnnxModel.load(ModelSource.onnx(SampleData.path("digits-mlp.onnx")), CONF);

  @Test
  void findsConvAndGemmWeightsButNotBiasesOrNormalisation() {
    List<PrunableTensor> cnn = PrunableTensors.find(CNN);
    assertEquals(List.of("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"),
        cnn.stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("Conv", "Conv", "Gemm", "Gemm"), cnn.stream().map(PrunableTensor::opType).toList());
    assertArrayEquals(new long[] {16, 8, 3, 3}, cnn.get(1).shape());
    assertEquals(16 * 8 * 9, cnn.get(1).parameters());
    assertEquals(List.of("fc1.weight", "fc2.weight", "fc3.weight"),
        PrunableTensors.find(MLP).stream().map(PrunableTensor::name).toList());
  }

  @Test
  void includeAndExcludeGlobsSelectByName() {
    assertEquals(List.of("conv1.weight", "conv2.weight"),
        PrunableTensors.find(CNN, List.of("conv*"), List.of()).stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("conv1.weight", "conv2.weight"),
        PrunableTensors.find(CNN, List.of("*"), List.of("fc?.weight")).stream().map(PrunableTensor::name).toList());
    assertEquals(List.of("conv2.weight", "fc1.weight"),
        PrunableTensors.find(CNN, List.of("*2.weight", "fc1.*"), List.of("fc2*")).stream().map(PrunableTensor::name).toList());
  }

  @Test
  void refusesIncludeGlobThatMatchesNothing() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> PrunableTensors.find(CNN, List.of("conv*", "layer4.*"), List.of()));
    assertTrue(e.getMessage().contains("layer4.*") && e.getMessage().contains("conv1.weight"), e.getMessage());
  }

  @Test
  void listingHasNameOpNodeShapeAndParameters() {
    Table listing = PrunableTensors.listing(PrunableTensors.find(CNN));
    assertEquals(List.of("tensor", "op", "node", "shape", "parameters"),
        listing.columns().stream().map(Table.Column::name).toList());
    assertEquals(4, listing.rows().size());
    assertEquals(8L * 9, listing.rows().get(0).get(4));
  }
}
