package dev.lopper.jobs.data;

import java.io.Serializable;

/**
 * What decoding saw in one partition's token sequences, so that the data is read once: rows seen,
 * the range of lengths, positions with a target, and the first row that cannot be used (a null
 * list or value, lists of different lengths, a token id outside its embedding table, a target
 * outside the vocabulary, a row longer than the model's fixed length) with what is wrong with it.
 *
 * @param rows rows seen
 * @param minLength the shortest row (Integer.MAX_VALUE when none)
 * @param maxLength the longest row (-1 when none)
 * @param targets positions that have a target token
 * @param problemRow the partition-local row number of the first unusable row, or -1
 * @param problem what is wrong with it ("column input_ids has token id 300, ..."), or null
 */
public record SequenceChecks(long rows, int minLength, int maxLength, long targets, long problemRow, String problem)
    implements Serializable {

  /** Nothing counted: for rows moved between tasks after the checks passed. */
  public static final SequenceChecks NONE = new SequenceChecks(0, Integer.MAX_VALUE, -1, 0, -1, null);
}
