package dev.lopper.jobs.report;

import gg.jte.Content;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;

/**
 * Escaping and number formatting for the report. Every piece of text that reaches the page goes
 * through {@link #text} or {@link #attr}: tensor names, paths and configuration values are user
 * data. The templates' output escapes with {@link #text} too; what they write unescaped is only
 * {@link #markup}, the plots that {@link SvgCharts} drew (escaping what they carry) and the
 * stylesheet.
 */
final class Html {

  private Html() {}

  /** {@code s} safe as element content or a double-quoted attribute value. */
  static String text(Object s) {
    String in = String.valueOf(s);
    StringBuilder out = new StringBuilder(in.length() + 16);
    for (int i = 0; i < in.length(); i++) {
      char c = in.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> {
          // Control characters other than tab and newline are not allowed in HTML text.
          if (c < 0x20 && c != '\t' && c != '\n') {
            out.append("&#xFFFD;");
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }

  /** Markup Lopper made itself, which a template writes as it is. */
  static Content markup(String html) {
    return output -> output.writeContent(html);
  }

  /** {@code name="value"} with the value escaped, preceded by a space. */
  static String attr(String name, Object value) {
    return " " + name + "=\"" + text(value) + "\"";
  }

  /**
   * A double as data attributes carry it: {@link Double#toString}, the form the CSV tables use, so
   * a reader gets back the identical double.
   */
  static String exact(double x) {
    return Double.toString(x);
  }

  /** Four significant digits, for people ("0.9833", "1.2e-05" as "0.00001200"). */
  static String num(double x) {
    if (Double.isNaN(x)) {
      return "–";
    }
    if (!Double.isFinite(x)) {
      return x > 0 ? "∞" : "-∞";
    }
    if (x == 0) {
      return "0";
    }
    return new BigDecimal(x).round(new MathContext(4)).stripTrailingZeros().toPlainString();
  }

  /** A change with its sign: "+0.0083", "-0.02", "0". */
  static String signed(double x) {
    String s = num(x);
    return x > 0 && Double.isFinite(x) ? "+" + s : s;
  }

  /** A fraction as a percentage with one decimal: "70.1%". */
  static String percent(double fraction) {
    return Double.isNaN(fraction) ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
  }

  /** An integer with thousands separators: "8,192". */
  static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  /** A coordinate for SVG, two decimals. */
  static String px(double x) {
    return String.format(Locale.ROOT, "%.2f", x);
  }
}
