package dev.lopper.jobs.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lopper.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LopperConfigTest {

  private static final String MINIMAL = """
      model:
        onnx: m.onnx
      data:
        path: d.parquet
      output:
        dir: runs/out
      """;

  private static LopperConfig parse(String yaml, String... sets) {
    return LopperConfig.parse(yaml, "conf/x.yaml", List.of(sets).stream().map(ConfigOverride::parse).toList());
  }

  private static String error(String yaml, String... sets) {
    return assertThrows(InvalidInputException.class, () -> parse(yaml, sets)).getMessage();
  }

  @Test
  void appliesTheDocumentedDefaults() {
    LopperConfig c = parse(MINIMAL);
    // The defaults of the schema in the brief, written out by hand.
    assertEquals(new ModelConfig("m.onnx", null, List.of("*"), List.of()), c.model());
    assertEquals(new DataConfig("d.parquet", "features", "label", java.util.Map.of(), null, null, 256, 0), c.data());
    assertEquals(new SweepConfig("magnitude", List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), 0), c.sweep());
    assertEquals(DecisionMetric.ACCURACY, c.metric());
    assertEquals(new AllocationConfig("target", 0.5, 0.01, 0.9), c.allocation());
    assertEquals(new GateConfig(0.02), c.gate());
    assertEquals(new OutputConfig("runs/out", false, false), c.output());
    assertEquals(new RuntimeConfig(0), c.runtime());
    assertEquals(new SparkConfig(null, Map.of()), c.spark());
  }

  @Test
  void countsTheTargetInParametersOrFlops() {
    assertEquals(dev.lopper.jobs.allocation.CostUnit.PARAMETERS, parse(MINIMAL).allocation().unit());
    assertEquals(dev.lopper.jobs.allocation.CostUnit.FLOPS, parse(MINIMAL, "allocation.unit=flops").allocation().unit());
    assertTrue(error(MINIMAL, "allocation.unit=macs").contains("one of parameters, flops"));
  }

  @Test
  void refusesGlobalMagnitudeWithChannelsOrFlops() {
    String channels = error(MINIMAL, "sweep.criterion=channel-l1", "allocation.policy=global-magnitude");
    assertTrue(channels.contains("allocation.policy") && channels.contains("whole channels"), channels);
    String flops = error(MINIMAL, "allocation.unit=flops", "allocation.policy=global-magnitude");
    assertTrue(flops.contains("allocation.unit") && flops.contains("parameters"), flops);
  }

  @Test
  void takesASpeedUpConstraintOnlyAboveOneWithChannelsAndTheTargetPolicy() {
    AllocationConfig a = parse(MINIMAL, "sweep.criterion=channel-l1", "allocation.min-speedup=1.5",
        "allocation.latency-batch=64").allocation();
    assertEquals(1.5, a.minSpeedup());
    assertEquals(64, a.latencyBatch());
    assertEquals(null, parse(MINIMAL).allocation().minSpeedup());
    assertEquals(256, parse(MINIMAL).allocation().latencyBatch());

    for (String bad : List.of("1", "0.5", "-2", "fast", "inf")) {
      String e = error(MINIMAL, "sweep.criterion=channel-l1", "allocation.min-speedup=" + bad);
      assertTrue(e.startsWith("--set allocation.min-speedup: expected a number above 1 or null, found '" + bad + "'"), e);
    }
    String batch = error(MINIMAL, "sweep.criterion=channel-l1", "allocation.latency-batch=0");
    assertTrue(batch.startsWith("--set allocation.latency-batch: expected a positive integer, found '0'"), batch);
    assertEquals(128, parse(MINIMAL).allocation().latencySequence());
    // min-speedup without a named target: the default target does not apply
    assertEquals(false, a.targetNamed());
    assertEquals(true, parse(MINIMAL, "sweep.criterion=channel-l1", "allocation.min-speedup=1.5",
        "allocation.target=0.5").allocation().targetNamed());
    assertEquals(true, parse(MINIMAL).allocation().targetNamed());
    assertEquals(64, parse(MINIMAL, "allocation.latency-sequence=64").allocation().latencySequence());
    for (String bad : List.of("0", "-3", "long", "1.5")) {
      String sequence = error(MINIMAL, "sweep.criterion=channel-l1", "allocation.latency-sequence=" + bad);
      assertTrue(sequence.startsWith("--set allocation.latency-sequence: expected a positive integer, found '" + bad
          + "'"), sequence);
    }

    String magnitude = error(MINIMAL, "allocation.min-speedup=1.5");
    assertTrue(magnitude.contains("allocation.min-speedup") && magnitude.contains("sweep.criterion magnitude")
        && magnitude.contains("channel-l1"), magnitude);
    String tolerance = error(MINIMAL, "sweep.criterion=channel-l1", "allocation.policy=tolerance",
        "allocation.min-speedup=1.5");
    assertTrue(tolerance.contains("allocation.min-speedup") && tolerance.contains("only policy target"), tolerance);
  }

  @Test
  void aChannelTargetIsNotBoundedByTheCapOnEachGroup() {
    // Half of every group's channels removes about three quarters of a Conv between two groups.
    assertEquals(0.8, parse(MINIMAL, "sweep.criterion=channel-l1", "allocation.target=0.8",
        "allocation.max-sparsity=0.6").allocation().target());
    assertTrue(error(MINIMAL, "allocation.target=0.8", "allocation.max-sparsity=0.6").contains("cannot be reached"));
  }

  @Test
  void buildsAConfigurationFromFlagsAlone() {
    LopperConfig c = LopperConfig.parse(null, null, List.of(
        ConfigOverride.ofFlag("--model", "s3a://bucket/m.onnx"),
        ConfigOverride.ofFlag("--data", "hdfs:///d"),
        ConfigOverride.ofFlag("--features", "x"),
        ConfigOverride.ofFlag("--label", "y"),
        ConfigOverride.ofFlag("--out", "runs/a:b"),
        ConfigOverride.ofFlag("--overwrite", "true"),
        ConfigOverride.ofFlag("--target", "0.7"),
        ConfigOverride.ofFlag("--policy", "uniform"),
        ConfigOverride.ofFlag("--metric", "f1"),
        ConfigOverride.ofFlag("--master", "local[2]")));
    assertEquals("s3a://bucket/m.onnx", c.model().onnx());
    assertEquals("hdfs:///d", c.data().path());
    assertEquals("x", c.data().features());
    assertEquals("y", c.data().label());
    assertEquals("runs/a:b", c.output().dir());
    assertTrue(c.output().overwrite());
    assertEquals(0.7, c.allocation().target());
    assertEquals("uniform", c.allocation().policy());
    assertEquals(DecisionMetric.F1, c.metric());
    assertEquals("local[2]", c.spark().master());
  }

  @Test
  void overridesApplyAfterTheFileInOrder() {
    assertEquals(128, parse(MINIMAL.replace("path: d.parquet", "path: d.parquet\n  batch-size: 128")).data().batchSize());
    LopperConfig c = parse(MINIMAL.replace("path: d.parquet", "path: d.parquet\n  batch-size: 128"),
        "data.batch-size=64", "data.batch-size=32", "sweep.sparsities=[0.9, 0.5, 0.5]");
    assertEquals(32, c.data().batchSize());
    assertEquals(List.of(0.5, 0.9), c.sweep().sparsities(), "sorted, duplicates dropped");
  }

  @Test
  void fileValuesOverrideDefaults() {
    LopperConfig c = parse("""
        model: {onnx: m.onnx, include: "fc*", exclude: ["*.bias"]}
        data: {path: d, label: "", input-shape: [1, 8, 8], batch-size: 100, partitions: 3}
        sweep: {criterion: l1-unstructured, sparsities: 0.5, tensors-per-task: 2}
        metric: kl
        allocation: {policy: tolerance, tolerance: 0.05, max-sparsity: 0.4}
        gate: {max-drop: null}
        output: {dir: o, overwrite: true}
        runtime: {threads: 2}
        spark:
          master: local[1]
          conf:
            spark.executor.memory: 4g
            spark:
              sql.shuffle.partitions: 8
        """);
    assertEquals(List.of("fc*"), c.model().include());
    assertNull(c.data().label(), "\"\" means no labels");
    assertEquals(List.of(1L, 8L, 8L), c.data().inputShape());
    assertEquals(List.of(0.5), c.sweep().sparsities());
    assertEquals(0.4, c.allocation().maxSparsity());
    assertFalse(c.gate().enabled());
    assertEquals(Map.of("spark.executor.memory", "4g", "spark.sql.shuffle.partitions", "8"), c.spark().conf());
  }

  @Test
  void unknownKeySuggestsTheClosestKnownKey() {
    assertEquals("conf/x.yaml: unknown key 'data.batchsize'; did you mean 'data.batch-size'?",
        error(MINIMAL.replace("path: d.parquet", "path: d.parquet\n  batchsize: 3")));
    assertEquals("--set: unknown key 'metrc'; did you mean 'metric'?", error(MINIMAL, "metrc=kl"));
    assertEquals("conf/x.yaml: unknown key 'batch-size'; did you mean 'data.batch-size'?",
        error(MINIMAL + "batch-size: 3\n"));
  }

  @Test
  void wrongTypeNamesTheKeyTheSourceAndTheValue() {
    assertEquals("--set data.batch-size: expected a positive integer, found 'abc'", error(MINIMAL, "data.batch-size=abc"));
    assertEquals("conf/x.yaml: data.batch-size: expected a positive integer, found '0'",
        error(MINIMAL.replace("path: d.parquet", "path: d.parquet\n  batch-size: 0")));
    assertEquals("conf/x.yaml: output.overwrite: expected true or false, found 'maybe'",
        error(MINIMAL.replace("dir: runs/out", "dir: runs/out\n  overwrite: maybe")));
    assertEquals("conf/x.yaml: model: expected a mapping of model.* keys, found 'm.onnx'",
        error("model: m.onnx\n"));
  }

  @Test
  void refusesSparsitiesOutsideTheUnitIntervalAndEmptyGrids() {
    assertEquals("--set sweep.sparsities: expected a list of numbers in (0, 1], found '1.5' in [0.5,1.5]",
        error(MINIMAL, "sweep.sparsities=[0.5, 1.5]"));
    assertEquals("--set sweep.sparsities: expected a list of numbers in (0, 1], found '0' in [0,0.5]",
        error(MINIMAL, "sweep.sparsities=[0, 0.5]"));
    assertEquals("--set sweep.sparsities: the sparsity grid is empty; expected a list of numbers in (0, 1]",
        error(MINIMAL, "sweep.sparsities=[]"));
  }

  @Test
  void compensationDefaultsByCriterionAndIsRefusedForSingleWeights() {
    assertTrue(parse(MINIMAL, "sweep.criterion=channel-wanda").sweep().compensates());
    assertFalse(parse(MINIMAL, "sweep.criterion=channel-l1").sweep().compensates());
    assertFalse(parse(MINIMAL, "sweep.criterion=channel-l1").sweep().channelStatistics());
    assertTrue(parse(MINIMAL, "sweep.criterion=channel-l1", "structure.compensate=true").sweep().channelStatistics());
    assertFalse(parse(MINIMAL, "sweep.criterion=channel-fluctuation", "structure.compensate=false").sweep().compensates());
    assertEquals("--set structure.compensate: compensates removed channels, but sweep.criterion magnitude prunes "
        + "single weights; use a channel criterion (channel-l1, channel-l2, channel-fluctuation, channel-wanda) or set "
        + "structure.compensate to null", error(MINIMAL, "structure.compensate=true"));
  }

  @Test
  void unknownNamesListTheKnownOnes() {
    assertEquals("--set metric: unknown name 'acc'; expected one of accuracy, top5, loss, f1, kl, perplexity, cosine",
        error(MINIMAL, "metric=acc"));
    assertEquals("--set allocation.policy: unknown name 'greedy'; expected one of target, tolerance, uniform, "
        + "owl, global-magnitude", error(MINIMAL, "allocation.policy=greedy"));
    assertEquals("--set sweep.criterion: unknown name 'random'; expected one of magnitude, global-magnitude, "
        + "channel-l1, channel-l2, channel-fluctuation, channel-wanda, wanda, sparsegpt, l1-unstructured", error(MINIMAL, "sweep.criterion=random"));
  }

  @Test
  void refusesTargetsOutsideTheOpenUnitInterval() {
    String message = assertThrows(InvalidInputException.class, () -> LopperConfig.parse(MINIMAL, "c.yaml",
        List.of(ConfigOverride.ofFlag("--target", "1")))).getMessage();
    assertEquals("--target (allocation.target): expected a number in (0, 1), found '1'", message);
    assertEquals("--set allocation.target: expected a number in (0, 1), found '0.0'",
        error(MINIMAL, "allocation.target=0.0"));
  }

  @Test
  void missingRequiredKeysSayHowToSetThem() {
    assertEquals("conf/x.yaml: missing required key model.onnx (set it in the configuration file or pass --model)",
        error(MINIMAL.replace("onnx: m.onnx", "weights: w.safetensors")));
    assertEquals("missing required key output.dir (set it in the configuration file or pass --out)",
        assertThrows(InvalidInputException.class, () -> LopperConfig.parse(null, null, List.of(
            ConfigOverride.ofFlag("--model", "m"), ConfigOverride.ofFlag("--data", "d")))).getMessage());
  }

  @Test
  void labelMetricsNeedALabelColumn() {
    assertEquals("metric: metric accuracy needs labels but data.label is empty; name the label column or use "
        + "metric kl", error(MINIMAL, "data.label="));
    assertEquals(DecisionMetric.KL, parse(MINIMAL, "data.label=null", "metric=kl").metric());
  }

  @Test
  void maxSparsityDefaultsToTheGridAndMayNotExceedIt() {
    assertEquals(0.6, parse(MINIMAL, "sweep.sparsities=[0.2,0.6]").allocation().maxSparsity());
    assertEquals("--set allocation.max-sparsity: 0.95 is above the largest swept sparsity 0.9, where the drop is "
        + "unmeasured; sweep higher sparsities or lower allocation.max-sparsity",
        error(MINIMAL, "allocation.max-sparsity=0.95"));
  }

  @Test
  void refusesATargetTheCapMakesUnreachable() {
    String message = error(MINIMAL, "allocation.target=0.8", "allocation.max-sparsity=0.7");
    assertTrue(message.startsWith("--set allocation.target: 0.8 cannot be reached by policy target"), message);
    // global-magnitude applies no cap.
    assertEquals(0.8, parse(MINIMAL, "allocation.target=0.8", "allocation.max-sparsity=0.7",
        "allocation.policy=global-magnitude").allocation().target());
  }

  @Test
  void acceptsDateNamedOutputs() {
    assertTrue(parse(MINIMAL, "output.name-by-date=true").output().nameByDate());
  }

  @Test
  void reportsYamlSyntaxAndDuplicateKeysWithTheFile() {
    String syntax = error("model:\n  onnx: [m.onnx\n");
    assertTrue(syntax.startsWith("conf/x.yaml: not valid YAML: "), syntax);
    assertTrue(syntax.contains("line"), syntax);
    String duplicate = error(MINIMAL + "metric: kl\nmetric: f1\n");
    assertTrue(duplicate.startsWith("conf/x.yaml: not valid YAML: Duplicate field 'metric'"), duplicate);
  }

  @Test
  void sparkConfTakesEntriesFromSet() {
    LopperConfig c = parse(MINIMAL + "spark:\n  conf:\n    spark.executor.memory: 2g\n",
        "spark.conf.spark.executor.memory=4g", "spark.conf.spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:9000");
    assertEquals("4g", c.spark().conf().get("spark.executor.memory"));
    assertEquals("http://127.0.0.1:9000", c.hadoopConfiguration().get("fs.s3a.endpoint"));
  }

  @Test
  void yamlOfTheConfigurationReadsBackEqual() {
    LopperConfig c = parse(MINIMAL, "data.features=123", "data.label=yes", "data.input-shape=[3,32,32]",
        "model.exclude=[\"*.bias\", \"head?\"]", "metric=top5", "allocation.policy=tolerance", "gate.max-drop=null",
        "spark.conf.spark.executor.memory=4g", "spark.master=local[2]", "sweep.sparsities=[0.25,0.5,0.75]");
    LopperConfig again = LopperConfig.parse(c.toYaml(), "manifest", List.of());
    assertEquals(c, again);
    assertEquals("123", again.data().features());
    assertEquals("yes", again.data().label());
  }

  @Test
  void asMapNestsKeysBySectionInSchemaOrder() {
    Map<String, Object> map = parse(MINIMAL).asMap();
    assertEquals(List.of("model", "data", "sweep", "structure", "calibration", "metric", "allocation", "gate", "output", "runtime", "spark"),
        List.copyOf(map.keySet()));
    assertEquals(256, ((Map<?, ?>) map.get("data")).get("batch-size"));
  }

  @Test
  void selectsTensorsByIncludeAndExcludeGlobs() {
    ModelConfig model = new ModelConfig("m", null, List.of("layers.*.weight", "head"), List.of("layers.1?.*"));
    assertTrue(model.selects("layers.0.weight"));
    assertTrue(model.selects("head"));
    assertFalse(model.selects("layers.12.weight"));
    assertFalse(model.selects("layers.0.bias"));
    assertFalse(model.selects("header"));
  }

  // ---- input checks through the Hadoop file system ----

  @TempDir
  Path tmp;

  private List<String> inputs(String model, String data, String out) {
    return List.of("model.onnx=" + model, "data.path=" + data, "output.dir=" + out);
  }

  @Test
  void loadChecksThatInputFilesExist() throws IOException {
    Path model = Files.writeString(tmp.resolve("m.onnx"), "x");
    Path data = Files.createDirectory(tmp.resolve("d.parquet"));
    String out = tmp.resolve("out").toString();
    LopperConfig c = LopperConfig.load(null, inputs(model.toString(), data.toString(), out));
    assertEquals(model.toString(), c.model().onnx());

    String missing = tmp.resolve("nope.onnx").toString();
    assertEquals("--set model.onnx: no such file: " + missing, assertThrows(InvalidInputException.class,
        () -> LopperConfig.load(null, inputs(missing, data.toString(), out))).getMessage());
    assertEquals("--set model.onnx: " + data + " is a directory; expected a file", assertThrows(
        InvalidInputException.class, () -> LopperConfig.load(null, inputs(data.toString(), data.toString(), out)))
        .getMessage());
    List<String> withWeights = new java.util.ArrayList<>(inputs(model.toString(), data.toString(), out));
    withWeights.add("model.weights=" + tmp.resolve("w.safetensors"));
    assertEquals("--set model.weights: no such file: " + tmp.resolve("w.safetensors"),
        assertThrows(InvalidInputException.class, () -> LopperConfig.load(null, withWeights)).getMessage());
  }

  @Test
  void loadReadsTheFileAndNamesItInErrors() throws IOException {
    Path model = Files.writeString(tmp.resolve("m.onnx"), "x");
    Path data = Files.writeString(tmp.resolve("d.parquet"), "x");
    Path conf = Files.writeString(tmp.resolve("c.yaml"), "model: {onnx: " + model + "}\ndata: {path: " + data
        + "}\noutput: {dir: " + tmp.resolve("o") + "}\nsweep: {tensors-per-task: -1}\n");
    assertEquals(conf + ": sweep.tensors-per-task: expected a non-negative integer, found '-1'",
        assertThrows(InvalidInputException.class, () -> LopperConfig.load(conf.toString(), List.of())).getMessage());
    assertEquals(3, LopperConfig.load(conf.toString(), List.of("sweep.tensors-per-task=3")).sweep().tensorsPerTask());
    assertEquals("--config: " + tmp.resolve("none.yaml") + ": no such file", assertThrows(InvalidInputException.class,
        () -> LopperConfig.load(tmp.resolve("none.yaml").toString(), List.of())).getMessage());
  }

  @Test
  void refusesAnOutputDirectoryThatHoldsOrLiesInsideAnInput() throws IOException {
    Path model = Files.writeString(tmp.resolve("m.onnx"), "x");
    Path data = Files.createDirectories(tmp.resolve("d"));
    String inside = assertThrows(InvalidInputException.class, () -> LopperConfig.load(null,
        inputs(model.toString(), data.toString(), data.resolve("run").toString()))).getMessage();
    assertTrue(inside.contains("lies inside the input data.path"), inside);
    String holds = assertThrows(InvalidInputException.class, () -> LopperConfig.load(null,
        inputs(model.toString(), data.toString(), tmp.toString()))).getMessage();
    assertTrue(holds.contains("holds the input model.onnx"), holds);
  }

  @Test
  void patternsAndCalibrationKeysAreReadAndCheckedTogether() {
    LopperConfig c = LopperConfig.parse(MINIMAL, "t.yaml", List.of(ConfigOverride.parse("sweep.pattern=2:4"),
        ConfigOverride.parse("sweep.criterion=wanda"), ConfigOverride.parse("calibration.rows=64"),
        ConfigOverride.parse("calibration.sequential=false"), ConfigOverride.parse("allocation.policy=uniform")));
    assertEquals(new dev.lopper.criteria.SparsityPattern(2, 4), c.sweep().pattern());
    assertArrayEquals(new double[] {0.5}, c.sweep().grid(), "under N:M the grid is the pattern's sparsity");
    assertEquals(64, c.calibration().rows());
    assertFalse(c.calibration().isSequential());
    assertEquals(0.01, c.calibration().dampening());
    assertEquals("--set sweep.pattern: expected unstructured or N:M with 1 <= N < M (e.g. 2:4, 4:8), found '2-4'",
        error(MINIMAL, "sweep.pattern=2-4"));
    assertTrue(error(MINIMAL, "sweep.pattern=2:4", "sweep.criterion=channel-l1").contains("prunes whole channels"));
    assertTrue(error(MINIMAL, "sweep.pattern=2:4", "allocation.policy=owl").contains("owl's graded sparsities"));
    assertTrue(error(MINIMAL, "sweep.pattern=2:4", "allocation.policy=global-magnitude")
        .contains("one global magnitude threshold cannot hold"));
    assertTrue(error(MINIMAL, "calibration.from=runs/x").startsWith("--set calibration.from: reuses the statistics"));
    assertTrue(error(MINIMAL, "allocation.policy=owl", "allocation.target=0.95")
        .startsWith("allocation.owl-lambda: 0.08 around allocation.target 0.95 leaves [0, 1]"));
    LopperConfig cut = LopperConfig.parse(MINIMAL, "t.yaml", List.of(ConfigOverride.parse("calibration.sequential=cut")));
    assertTrue(cut.calibration().isSequential());
    assertTrue(cut.calibration().byCuts());
    assertTrue(LopperConfig.parse(MINIMAL, "t.yaml", List.of()).calibration().isSequential(), "true by default");
    assertEquals("--set calibration.sequential: unknown name 'blocks'; expected one of true, false, cut",
        error(MINIMAL, "calibration.sequential=blocks"));
    assertTrue(error(MINIMAL, "calibration.sequential=cut", "calibration.groups=[blocks.*]")
        .startsWith("--set calibration.groups: calibration.sequential cut makes the groups"));
  }
}
