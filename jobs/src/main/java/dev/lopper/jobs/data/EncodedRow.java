package dev.lopper.jobs.data;

import java.io.Serializable;

/**
 * One validation row as Spark's bean encoder decodes it: the features straight into a {@code float[]}
 * (a copy of Spark's array data, no boxed {@code Float} per value) and the label as a {@code long}.
 * Only {@link ValidationData} uses it; it is public because Spark's bean encoder needs a public class
 * with a public no-argument constructor, getters and setters.
 */
public final class EncodedRow implements Serializable {
  private static final long serialVersionUID = 1L;

  private float[] features;
  private long label;

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
}
