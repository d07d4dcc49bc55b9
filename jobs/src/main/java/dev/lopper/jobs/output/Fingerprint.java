package dev.lopper.jobs.output;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Everything that decides a step's checkpointed results ({@link Checkpoint}), as named text fields
 * in a fixed order: two runs whose fingerprints are equal compute the same results bit for bit, so
 * one may reuse the other's. Compared field by field, so that a refusal can name what changed.
 *
 * <pre>{@code
 * Fingerprint f = Fingerprint.builder().put("model", sha256).put("sparsities", "[0.5, 0.9]").build();
 * f.firstDifference(recorded).ifPresent(d -> ...);   // "sparsities: [0.5, 0.9] in the checkpoint, [0.5] now"
 * }</pre>
 *
 * @param fields field name to value, in the order they were put
 */
public record Fingerprint(Map<String, String> fields) {

  /** Values longer than this are recorded as their start and SHA-256, so that the file stays readable. */
  static final int LONGEST_VALUE = 200;

  public Fingerprint {
    fields = new LinkedHashMap<>(fields);
  }

  /** A builder of fields in order. */
  public static Builder builder() {
    return new Builder();
  }

  /** SHA-256 (hex) of the fields and their order: what a committed unit records to be tied to its fingerprint. */
  public String digest() {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    fields.forEach((k, v) -> digest.update((k + "\t" + v + "\n").getBytes(StandardCharsets.UTF_8)));
    return HexFormat.of().formatHex(digest.digest());
  }

  /**
   * The first field whose value differs between {@code recorded} (a checkpoint's) and this one, as
   * "FIELD is A in the checkpoint, B in this run"; empty when they are equal.
   */
  public Optional<String> firstDifference(Fingerprint recorded) {
    for (Map.Entry<String, String> e : fields.entrySet()) {
      String theirs = recorded.fields.get(e.getKey());
      if (!e.getValue().equals(theirs)) {
        return Optional.of(e.getKey() + " is " + (theirs == null ? "not recorded" : theirs)
            + " in the checkpoint, " + e.getValue() + " in this run");
      }
    }
    for (String key : recorded.fields.keySet()) {
      if (!fields.containsKey(key)) {
        return Optional.of(key + " is " + recorded.fields.get(key) + " in the checkpoint, not part of this run");
      }
    }
    return Optional.empty();
  }

  /** Builds a {@link Fingerprint}. */
  public static final class Builder {
    private final Map<String, String> fields = new LinkedHashMap<>();

    private Builder() {}

    /** Adds field {@code name}; a long value is recorded as its start and its SHA-256. */
    public Builder put(String name, Object value) {
      String text = String.valueOf(value);
      if (text.length() > LONGEST_VALUE) {
        text = text.substring(0, 60) + "... (" + text.length() + " chars, sha256 "
            + sha256(text).substring(0, 16) + ")";
      }
      if (fields.putIfAbsent(name, text) != null) {
        throw new IllegalArgumentException("fingerprint field " + name + " given twice");
      }
      return this;
    }

    public Fingerprint build() {
      return new Fingerprint(fields);
    }

    private static String sha256(String text) {
      try {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
            .digest(text.getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
