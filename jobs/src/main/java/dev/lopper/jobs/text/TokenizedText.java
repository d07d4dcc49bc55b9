package dev.lopper.jobs.text;

/**
 * One text as a transformer's inputs, special tokens included and without padding. The arrays have
 * the same length and are the caller's (records compare arrays by reference: compare their contents).
 *
 * @param inputIds the token ids ({@code input_ids})
 * @param attentionMask 1 for every token ({@code attention_mask}; there is no padding to mask)
 * @param tokenTypeIds the segment of every token, 0 for a single text ({@code token_type_ids})
 * @param truncated true when the text had more tokens than the maximum length and was cut to it
 */
public record TokenizedText(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, boolean truncated) {

  public TokenizedText {
    if (attentionMask.length != inputIds.length || tokenTypeIds.length != inputIds.length) {
      throw new IllegalArgumentException("lengths differ: input_ids " + inputIds.length + ", attention_mask "
          + attentionMask.length + ", token_type_ids " + tokenTypeIds.length);
    }
  }

  /** The number of tokens. */
  public int length() {
    return inputIds.length;
  }
}
