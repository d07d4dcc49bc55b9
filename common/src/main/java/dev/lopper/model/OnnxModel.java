package dev.lopper.model;

import dev.lopper.InvalidInputException;
import dev.lopper.io.HadoopFiles;
import dev.lopper.io.Safetensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import onnx.Onnx;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.Path;
import org.nd4j.shade.protobuf.ByteString;
import org.nd4j.shade.protobuf.CodedInputStream;
import org.nd4j.shade.protobuf.UnsafeByteOperations;
import org.nd4j.shade.protobuf.InvalidProtocolBufferException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ONNX model loaded for pruning: its graph, and its float weights in direct memory.
 *
 * <p>Loading reads the ONNX file, any external-data files it names (relative to the model's
 * directory) and an optional safetensors file whose tensors replace initializers of the same name,
 * all through the Hadoop FileSystem API. It checks what it reads: a file that is not ONNX, a
 * truncated graph (a node reading a value nothing defines), tensor data that does not fit its
 * dims, a safetensors tensor whose shape differs from the initializer's, and NaN or infinite
 * weights are refused with a message naming the file and tensor.
 *
 * <p>The model keeps the graph with every float initializer reduced to a header (name, type, dims)
 * marked as external data; ONNX Runtime sessions are built from {@link #graphBytes()} with the
 * weights supplied as external initializers, so that a pruned variant is the same graph with some
 * buffers replaced (measured: {@code SessionOptions.addInitializer} silently keeps the dense Conv
 * weights at full optimisation, while external initializers take effect).
 *
 * <pre>{@code
 * OnnxModel model = OnnxModel.load(new ModelSource("hdfs:///m/cnn.onnx", "hdfs:///m/cnn.safetensors"), conf);
 * WeightTensor w = model.weight("conv1.weight");
 * }</pre>
 */
public final class OnnxModel {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

  /** The location written into the headers of initializers that are supplied at session build. */
  static final String EXTERNAL_MARK = "lopper-external-initializer";

  private final ModelSource source;
  private final String checksum;
  private final Onnx.ModelProto graph;
  private final byte[] graphBytes;
  private final List<Onnx.ValueInfoProto> originalInputs;
  private final Map<String, WeightTensor> weights;
  private final Map<String, String> weightOrigins;
  private final List<ValueInfo> inputs;
  private final List<ValueInfo> outputs;

  /**
   * A graph input or output.
   *
   * @param name the value's name
   * @param dims its dimensions, -1 where symbolic or unknown (usually the batch)
   */
  public record ValueInfo(String name, long[] dims) {
    public ValueInfo {
      dims = dims.clone();
    }

    @Override
    public long[] dims() {
      return dims.clone();
    }

    @Override
    public String toString() {
      return name + Arrays.toString(dims);
    }
  }

  private OnnxModel(ModelSource source, String checksum, Onnx.ModelProto graph,
      List<Onnx.ValueInfoProto> originalInputs, Map<String, WeightTensor> weights,
      Map<String, String> weightOrigins) {
    this.source = source;
    this.checksum = checksum;
    this.graph = graph;
    this.graphBytes = graph.toByteArray();
    this.originalInputs = List.copyOf(originalInputs);
    this.weights = Collections.unmodifiableMap(weights);
    this.weightOrigins = Map.copyOf(weightOrigins);
    this.inputs = graph.getGraph().getInputList().stream().map(OnnxModel::valueInfo).toList();
    this.outputs = graph.getGraph().getOutputList().stream().map(OnnxModel::valueInfo).toList();
  }

  /** Loads and checks a model; every problem with the files is an {@link InvalidInputException}. */
  public static OnnxModel load(ModelSource source, Configuration conf) {
    String path = source.onnxPath();
    // Mapped when local: a model whose weights are inline but come from a safetensors file is
    // parsed without its weights ever being read into the heap.
    ByteBuffer bytes = HadoopFiles.readAllMapped(path, conf);
    // The checksum tells the driver's files from an executor's: fingerprints (fast in any JIT mode,
    // HadoopFiles.fingerprint) of every file, combined by SHA-256 into one identifier. A mapped
    // file is fingerprinted through a stream (the page cache) so that its pages are not all mapped in.
    MessageDigest digest = sha256();
    digest.update((bytes.hasArray() ? HadoopFiles.fingerprint(bytes.array())
        : HadoopFiles.fingerprint(path, conf)).getBytes(StandardCharsets.UTF_8));
    Onnx.ModelProto proto = parse(path, bytes);
    checkStructure(path, proto);

    Map<String, WeightTensor> weights = new LinkedHashMap<>();
    Map<String, String> origins = new HashMap<>();
    Onnx.GraphProto.Builder graph = proto.getGraph().toBuilder().clearInitializer();
    // Tensors the safetensors file supplies are read from there only, not from the ONNX file too.
    Safetensors.File safetensors = source.weightsPath() == null ? null
        : Safetensors.open(source.weightsPath(), conf);
    Map<String, long[]> pending = new HashMap<>();
    try (ExternalData external = new ExternalData(path, conf)) {
      for (Onnx.TensorProto tensor : proto.getGraph().getInitializerList()) {
        if (tensor.getDataType() == Onnx.TensorProto.DataType.FLOAT_VALUE) {
          if (safetensors != null && safetensors.entries().containsKey(tensor.getName())) {
            weights.put(tensor.getName(), null); // its place in the order; read by applySafetensors
            pending.put(tensor.getName(), tensor.getDimsList().stream().mapToLong(Long::longValue).toArray());
          } else {
            weights.put(tensor.getName(), readFloat(path, tensor, external));
          }
          origins.put(tensor.getName(), path);
          graph.addInitializer(externalHeader(tensor));
        } else {
          graph.addInitializer(inline(path, tensor, external));
        }
      }
      for (String file : external.files()) {
        digest.update(HadoopFiles.fingerprint(file, conf).getBytes(StandardCharsets.UTF_8));
      }
    }
    if (safetensors != null) {
      applySafetensors(source, safetensors, weights, pending, origins);
      digest.update(HadoopFiles.fingerprint(source.weightsPath(), conf).getBytes(StandardCharsets.UTF_8));
    }
    for (WeightTensor w : weights.values()) {
      checkFinite(w, origins.get(w.name()));
    }
    // Initializers listed as graph inputs too (IR < 4) would make them overridable feeds.
    List<Onnx.ValueInfoProto> originalInputs = proto.getGraph().getInputList();
    Set<String> initializerNames = new HashSet<>();
    proto.getGraph().getInitializerList().forEach(t -> initializerNames.add(t.getName()));
    graph.clearInput();
    originalInputs.stream().filter(i -> !initializerNames.contains(i.getName())).forEach(graph::addInput);

    Onnx.ModelProto graphOnly = proto.toBuilder().setGraph(graph).build();
    String checksum = HexFormat.of().formatHex(digest.digest());
    LOG.info("Loaded {}: {} nodes, {} float initializers", path, proto.getGraph().getNodeCount(), weights.size());
    return new OnnxModel(source, checksum, graphOnly, originalInputs, weights, origins);
  }

  /** Where the model came from. */
  public ModelSource source() {
    return source;
  }

  /**
   * An identifier of the files' contents: SHA-256 over the fingerprints ({@link
   * HadoopFiles#fingerprint}: CRC-32C, CRC-32, length) of the ONNX file, its external-data files and
   * the safetensors file. Executors compare it with the driver's to make sure they load the same
   * model; the files' own SHA-256 sums are the manifest's ({@code inputs}).
   */
  public String checksum() {
    return checksum;
  }

  /** The graph, with float initializers reduced to headers marked as external data. */
  public Onnx.ModelProto graph() {
    return graph;
  }

  /** {@link #graph()} serialised: what ONNX Runtime sessions are built from. */
  public byte[] graphBytes() {
    return graphBytes.clone();
  }

  /** The graph's inputs as the file declared them (including any initializers listed there). */
  List<Onnx.ValueInfoProto> originalInputs() {
    return originalInputs;
  }

  /** Every float32 initializer, in graph order. */
  public Map<String, WeightTensor> weights() {
    return weights;
  }

  /** The float32 initializer {@code name}; a missing one is bad input. */
  public WeightTensor weight(String name) {
    WeightTensor w = weights.get(name);
    if (w == null) {
      throw new InvalidInputException(source.onnxPath() + ": no float initializer named " + name);
    }
    return w;
  }

  /** The graph's inputs that are fed at run time (not initializers). */
  public List<ValueInfo> inputs() {
    return inputs;
  }

  /** The graph's outputs. */
  public List<ValueInfo> outputs() {
    return outputs;
  }

  /** The nodes, in the graph's (topological) order. */
  public List<Onnx.NodeProto> nodes() {
    return graph.getGraph().getNodeList();
  }

  @Override
  public String toString() {
    return "OnnxModel[" + source.onnxPath() + (source.weightsPath() == null ? "" : " + " + source.weightsPath()) + "]";
  }

  private static Onnx.ModelProto parse(String path, ByteBuffer bytes) {
    if (!bytes.hasRemaining()) {
      throw new InvalidInputException(path + ": not an ONNX model: the file is empty");
    }
    Onnx.ModelProto proto;
    try {
      // A stream over bytes it may treat as immutable, with aliasing: the tensors' raw data are
      // views of the file's bytes, not copies (a stream of CodedInputStream.newInstance copies them).
      CodedInputStream in = UnsafeByteOperations.unsafeWrap(bytes).newCodedInput();
      in.enableAliasing(true);
      in.setSizeLimit(Integer.MAX_VALUE);
      proto = Onnx.ModelProto.parseFrom(in);
    } catch (InvalidProtocolBufferException e) {
      throw new InvalidInputException(path + ": not an ONNX model, or truncated (" + e.getMessage() + ")", e);
    } catch (IOException e) {
      throw new InvalidInputException(path + ": cannot parse: " + e.getMessage(), e);
    }
    if (proto.getIrVersion() <= 0 || !proto.hasGraph() || proto.getGraph().getNodeCount() == 0) {
      throw new InvalidInputException(path + ": not an ONNX model (no IR version or no graph nodes found)");
    }
    return proto;
  }

  /** A truncated file can still parse; a graph whose nodes read undefined values cannot run. */
  private static void checkStructure(String path, Onnx.ModelProto proto) {
    Onnx.GraphProto g = proto.getGraph();
    Set<String> defined = new HashSet<>();
    g.getInputList().forEach(i -> defined.add(i.getName()));
    g.getInitializerList().forEach(t -> defined.add(t.getName()));
    for (int n = 0; n < g.getNodeCount(); n++) {
      Onnx.NodeProto node = g.getNode(n);
      for (String input : node.getInputList()) {
        if (!input.isEmpty() && !defined.contains(input)) {
          throw new InvalidInputException(path + ": node " + nodeName(node) + " (" + node.getOpType()
              + ") reads " + input + ", which no input, initializer or earlier node defines;"
              + " the file is truncated or not a valid ONNX graph");
        }
      }
      defined.addAll(node.getOutputList());
    }
    for (Onnx.ValueInfoProto output : g.getOutputList()) {
      if (!defined.contains(output.getName())) {
        throw new InvalidInputException(path + ": graph output " + output.getName()
            + " is not produced by any node; the file is truncated or not a valid ONNX graph");
      }
    }
  }

  static String nodeName(Onnx.NodeProto node) {
    if (!node.getName().isEmpty()) {
      return node.getName();
    }
    return node.getOutputCount() > 0 ? node.getOutput(0) : node.getOpType();
  }

  private static WeightTensor readFloat(String path, Onnx.TensorProto tensor, ExternalData external) {
    long[] dims = tensor.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long count = WeightTensor.elementCount(dims);
    if (count > Integer.MAX_VALUE / Float.BYTES) {
      throw new InvalidInputException(path + ": tensor " + tensor.getName() + " " + Arrays.toString(dims)
          + " is larger than 2 GiB, which Lopper cannot hold as one buffer");
    }
    FloatBuffer out = WeightTensor.allocate(count);
    if (tensor.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
      ByteBuffer raw = external.read(tensor, count * Float.BYTES);
      out.put(raw.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
    } else if (!tensor.getRawData().isEmpty()) {
      ByteString raw = tensor.getRawData();
      if (raw.size() != count * Float.BYTES) {
        throw new InvalidInputException(path + ": tensor " + tensor.getName() + " has " + raw.size()
            + " bytes of data, but dims " + Arrays.toString(dims) + " need " + count * Float.BYTES);
      }
      out.put(raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
    } else {
      if (tensor.getFloatDataCount() != count) {
        throw new InvalidInputException(path + ": tensor " + tensor.getName() + " has "
            + tensor.getFloatDataCount() + " values, but dims " + Arrays.toString(dims) + " need " + count);
      }
      for (int i = 0; i < count; i++) {
        out.put(tensor.getFloatData(i));
      }
    }
    out.flip();
    return new WeightTensor(tensor.getName(), dims, out);
  }

  private static Onnx.TensorProto externalHeader(Onnx.TensorProto tensor) {
    long bytes = WeightTensor.elementCount(tensor.getDimsList().stream().mapToLong(Long::longValue).toArray()) * Float.BYTES;
    return tensor.toBuilder()
        .clearRawData().clearFloatData().clearExternalData()
        .setDataLocation(Onnx.TensorProto.DataLocation.EXTERNAL)
        .addExternalData(entry("location", EXTERNAL_MARK))
        .addExternalData(entry("offset", "0"))
        .addExternalData(entry("length", Long.toString(bytes)))
        .build();
  }

  /** Non-float initializers (shapes, indices) stay in the graph, with external data read in. */
  private static Onnx.TensorProto inline(String path, Onnx.TensorProto tensor, ExternalData external) {
    if (tensor.getDataLocation() != Onnx.TensorProto.DataLocation.EXTERNAL) {
      return tensor;
    }
    long length = Long.parseLong(externalField(tensor, "length", "-1"));
    ByteBuffer raw = external.read(tensor, length);
    return tensor.toBuilder().clearExternalData()
        .setDataLocation(Onnx.TensorProto.DataLocation.DEFAULT)
        .setRawData(ByteString.copyFrom(raw))
        .build();
  }

  static Onnx.StringStringEntryProto entry(String key, String value) {
    return Onnx.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
  }

  static String externalField(Onnx.TensorProto tensor, String key, String fallback) {
    for (Onnx.StringStringEntryProto e : tensor.getExternalDataList()) {
      if (e.getKey().equals(key)) {
        return e.getValue();
      }
    }
    return fallback;
  }

  /**
   * Puts the safetensors file's tensors in place of the float initializers of their names; those
   * in {@code pending} (of the shapes given there) were not read from the ONNX file at all.
   */
  private static void applySafetensors(ModelSource source, Safetensors.File file,
      Map<String, WeightTensor> weights, Map<String, long[]> pending, Map<String, String> origins) {
    List<String> unmatched = new ArrayList<>();
    int replaced = 0;
    for (Safetensors.Entry entry : file.entries().values()) {
      WeightTensor current = weights.get(entry.name());
      long[] shape = current != null ? current.shape() : pending.get(entry.name());
      if (shape == null) {
        unmatched.add(entry.name());
        continue;
      }
      if (!Arrays.equals(shape, entry.shape())) {
        throw new InvalidInputException(source.weightsPath() + ": tensor " + entry.name() + " has shape "
            + Arrays.toString(entry.shape()) + ", but the initializer in " + source.onnxPath()
            + " has shape " + Arrays.toString(shape));
      }
      weights.put(entry.name(), file.readFloat(entry.name()));
      origins.put(entry.name(), source.weightsPath());
      replaced++;
    }
    if (replaced == 0 && !file.entries().isEmpty()) {
      throw new InvalidInputException(source.weightsPath() + ": none of its " + file.entries().size()
          + " tensors (e.g. " + file.entries().keySet().iterator().next() + ") names a float initializer of "
          + source.onnxPath() + " (e.g. " + weights.keySet().stream().findFirst().orElse("none")
          + "); export the model with do_constant_folding=False to keep the state-dict names");
    }
    if (!unmatched.isEmpty()) {
      LOG.warn("{}: {} tensors name no float initializer of {} and are ignored: {}", source.weightsPath(),
          unmatched.size(), source.onnxPath(), new TreeSet<>(unmatched));
    }
  }

  private static void checkFinite(WeightTensor w, String origin) {
    FloatBuffer data = w.data();
    for (int i = 0, n = w.size(); i < n; i++) {
      float v = data.get(i);
      if (!Float.isFinite(v)) {
        throw new InvalidInputException(origin + ": tensor " + w.name() + " has " + (Float.isNaN(v) ? "a NaN" : "an infinite")
            + " value at index " + i + " (of " + n + "); Lopper needs finite weights");
      }
    }
  }

  private static ValueInfo valueInfo(Onnx.ValueInfoProto info) {
    Onnx.TensorShapeProto shape = info.getType().getTensorType().getShape();
    long[] dims = new long[shape.getDimCount()];
    for (int i = 0; i < dims.length; i++) {
      Onnx.TensorShapeProto.Dimension d = shape.getDim(i);
      dims[i] = d.hasDimValue() && d.getDimValue() > 0 ? d.getDimValue() : -1;
    }
    return new ValueInfo(info.getName(), dims);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads tensors stored in external-data files next to the model, keeping each file open once. */
  private static final class ExternalData implements AutoCloseable {
    private final String modelPath;
    private final Path baseDir;
    private final Configuration conf;
    private final Map<String, FSDataInputStream> open = new LinkedHashMap<>();
    private final Map<String, Long> lengths = new HashMap<>();

    ExternalData(String modelPath, Configuration conf) {
      this.modelPath = modelPath;
      this.baseDir = new Path(modelPath).getParent();
      this.conf = conf;
    }

    List<String> files() {
      return new ArrayList<>(open.keySet());
    }

    ByteBuffer read(Onnx.TensorProto tensor, long expectedLength) {
      String location = externalField(tensor, "location", null);
      if (location == null || location.isEmpty() || location.startsWith("/") || Arrays.asList(location.split("[/\\\\]")).contains("..")) {
        throw new InvalidInputException(modelPath + ": tensor " + tensor.getName()
            + " names external data location '" + location + "'; expected a file inside the model's directory");
      }
      long offset;
      long length;
      try {
        offset = Long.parseLong(externalField(tensor, "offset", "0"));
        length = Long.parseLong(externalField(tensor, "length", Long.toString(expectedLength)));
      } catch (NumberFormatException e) {
        throw new InvalidInputException(modelPath + ": tensor " + tensor.getName() + " has a bad external data offset or length");
      }
      String file = new Path(baseDir, location).toString();
      if (expectedLength >= 0 && length != expectedLength) {
        throw new InvalidInputException(file + ": tensor " + tensor.getName() + " has " + length
            + " bytes of external data, but its dims need " + expectedLength);
      }
      FSDataInputStream in = open.computeIfAbsent(file, f -> {
        lengths.put(f, HadoopFiles.length(f, conf));
        return HadoopFiles.open(f, conf);
      });
      if (offset < 0 || length < 0 || offset + length > lengths.get(file)) {
        throw new InvalidInputException(file + ": tensor " + tensor.getName() + " (bytes " + offset + "-"
            + (offset + length) + ") runs past the end of the file (" + lengths.get(file) + " bytes)");
      }
      if (length > Integer.MAX_VALUE) {
        throw new InvalidInputException(file + ": tensor " + tensor.getName() + " is larger than 2 GiB");
      }
      byte[] bytes = new byte[(int) length];
      try {
        in.readFully(offset, bytes);
      } catch (IOException e) {
        throw new InvalidInputException(file + ": cannot read tensor " + tensor.getName() + ": " + e.getMessage(), e);
      }
      return ByteBuffer.wrap(bytes);
    }

    @Override
    public void close() {
      for (FSDataInputStream in : open.values()) {
        try {
          in.close();
        } catch (IOException ignored) {
          // Read-only streams; nothing to lose.
        }
      }
    }
  }
}
