package dev.lopper.jobs.text;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * BERT's uncased tokenization written out from its description, as an independent truth for ASCII
 * text: lower-case, split on whitespace and around each punctuation character, then greedy
 * longest-match WordPiece over the vocabulary ({@code ##} for pieces inside a word, {@code [UNK]}
 * for a word without a split or longer than 100 characters), and {@code [CLS] ... [SEP]} around,
 * keeping the first tokens when truncating.
 */
public final class WordPieceReference {

  private final Map<String, Long> vocab;

  public WordPieceReference(Map<String, Long> vocab) {
    this.vocab = vocab;
  }

  /** The input ids of {@code text}, at most {@code maxLength} of them (0: no limit). */
  public long[] ids(String text, int maxLength) {
    if (!text.chars().allMatch(c -> c < 128)) {
      throw new IllegalArgumentException("the reference handles ASCII text only: " + text);
    }
    List<Long> pieces = new ArrayList<>();
    for (String word : words(text.toLowerCase(Locale.ROOT))) {
      pieces.addAll(wordPieces(word));
    }
    int keep = maxLength > 0 ? Math.min(pieces.size(), maxLength - 2) : pieces.size();
    long[] ids = new long[keep + 2];
    ids[0] = vocab.get("[CLS]");
    for (int i = 0; i < keep; i++) {
      ids[i + 1] = pieces.get(i);
    }
    ids[keep + 1] = vocab.get("[SEP]");
    return ids;
  }

  /** True when {@code text} has more than {@code maxLength} tokens with [CLS] and [SEP]. */
  public boolean truncated(String text, int maxLength) {
    return ids(text, 0).length > maxLength;
  }

  private static List<String> words(String text) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    for (char c : text.toCharArray()) {
      if (Character.isWhitespace(c) || Character.isISOControl(c)) {
        flush(word, words);
      } else if (punctuation(c)) {
        flush(word, words);
        words.add(String.valueOf(c));
      } else {
        word.append(c);
      }
    }
    flush(word, words);
    return words;
  }

  /** BERT counts every non-alphanumeric printable ASCII character as punctuation. */
  private static boolean punctuation(char c) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  }

  private static void flush(StringBuilder word, List<String> words) {
    if (word.length() > 0) {
      words.add(word.toString());
      word.setLength(0);
    }
  }

  private List<Long> wordPieces(String word) {
    if (word.length() > 100) {
      return List.of(vocab.get("[UNK]"));
    }
    List<Long> pieces = new ArrayList<>();
    int start = 0;
    while (start < word.length()) {
      Long id = null;
      int end = word.length();
      for (; end > start; end--) {
        id = vocab.get((start > 0 ? "##" : "") + word.substring(start, end));
        if (id != null) {
          break;
        }
      }
      if (id == null) {
        return List.of(vocab.get("[UNK]"));
      }
      pieces.add(id);
      start = end;
    }
    return pieces;
  }
}
