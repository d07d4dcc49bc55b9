package dev.lopper.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference tables that data/make_samples.py wrote with PyTorch (plain CSV: a header row, no
 * quoting), read as rows of column name to text. Kept apart from Lopper's own CSV code on purpose,
 * so that a bug there cannot hide in the comparison.
 */
public final class ReferenceCsv {
  private ReferenceCsv() {}

  /** The rows of {@code data/reference/<name>}. */
  public static List<Map<String, String>> read(String name) {
    Path file = SampleData.dir().resolve("reference").resolve(name);
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String[] header = lines.get(0).split(",", -1);
    List<Map<String, String>> rows = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank()) {
        continue;
      }
      String[] cells = line.split(",", -1);
      Map<String, String> row = new LinkedHashMap<>();
      for (int i = 0; i < header.length; i++) {
        row.put(header[i], cells[i]);
      }
      rows.add(row);
    }
    return rows;
  }
}
