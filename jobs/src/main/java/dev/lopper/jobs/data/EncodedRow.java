package dev.lopper.jobs.data;

import java.io.Serializable;

/**
 * One validation row as Spark's bean encoder decodes it: the features straight into a {@code float[]}
 * (a copy of Spark's array data, no boxed {@code Float} per value), the label as a {@code long} and
 * two flags the decoding's checks need (a null label, null values in the list).
 * Only {@link ValidationData} uses it; it is public because Spark's bean encoder needs a public class
 * with a public no-argument constructor, getters and setters.
 */
public final class EncodedRow implements Serializable {
  private static final long serialVersionUID = 1L;

  private float[] features;
  private long label;
  private boolean labelMissing;
  private boolean nullValues;

  /** An empty row, for the encoder. */
  public EncodedRow() {}

  /** The features, flattened. */
  public float[] getFeatures() {
    return features;
  }

  /** Sets the features. */
  public void setFeatures(float[] features) {
    this.features = features;
  }

  /** The class label (0 for data without labels). */
  public long getLabel() {
    return label;
  }

  /** Sets the class label. */
  public void setLabel(long label) {
    this.label = label;
  }

  /** Whether the row's label is null (the label then reads 0). */
  public boolean getLabelMissing() {
    return labelMissing;
  }

  /** Sets whether the label is null. */
  public void setLabelMissing(boolean labelMissing) {
    this.labelMissing = labelMissing;
  }

  /**
   * Whether the features list holds a null value; such a row's features come as null (Spark's
   * decoding into a {@code float[]} refuses null values). Only computed when the file's schema
   * allows null values.
   */
  public boolean getNullValues() {
    return nullValues;
  }

  /** Sets whether the features hold a null value. */
  public void setNullValues(boolean nullValues) {
    this.nullValues = nullValues;
  }
}
