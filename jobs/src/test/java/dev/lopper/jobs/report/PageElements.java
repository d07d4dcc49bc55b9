package dev.lopper.jobs.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads elements and their attributes out of HTML text — the report as written, or the DOM as
 * headless Chromium serialises it after rendering — without a browser's parser: enough to find
 * the plots' points and bars and compare them with the tables.
 */
public final class PageElements {

  private static final Pattern ATTRIBUTE = Pattern.compile("([A-Za-z_:][-A-Za-z0-9_:.]*)=\"([^\"]*)\"");

  private PageElements() {}

  /** The attributes of every {@code <tag ...>} in {@code html}, in document order. */
  public static List<Map<String, String>> elements(String html, String tag) {
    List<Map<String, String>> out = new ArrayList<>();
    Matcher m = Pattern.compile("<" + tag + "(\\s[^>]*)?/?>").matcher(html);
    while (m.find()) {
      Map<String, String> attributes = new LinkedHashMap<>();
      if (m.group(1) != null) {
        Matcher a = ATTRIBUTE.matcher(m.group(1));
        while (a.find()) {
          attributes.put(a.group(1), unescape(a.group(2)));
        }
      }
      out.add(attributes);
    }
    return out;
  }

  /** The elements {@code <tag>} whose class list holds {@code cssClass}. */
  public static List<Map<String, String>> withClass(String html, String tag, String cssClass) {
    return elements(html, tag).stream()
        .filter(e -> List.of(e.getOrDefault("class", "").split("\\s+")).contains(cssClass)).toList();
  }

  /** The text of the {@code <svg>} element with id {@code id}, up to its end tag (no nested svg). */
  public static String svg(String html, String id) {
    int at = html.indexOf("id=\"" + id + "\"");
    if (at < 0) {
      throw new AssertionError("no element with id " + id);
    }
    int start = html.lastIndexOf("<svg", at);
    int end = html.indexOf("</svg>", at);
    return html.substring(start, end + "</svg>".length());
  }

  /** The text of {@code <title>}. */
  public static String title(String html) {
    Matcher m = Pattern.compile("<title>(.*?)</title>", Pattern.DOTALL).matcher(html);
    return m.find() ? unescape(m.group(1)) : null;
  }

  static String unescape(String s) {
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
        .replace("&#x27;", "'").replace("&nbsp;", "\u00a0").replace("&amp;", "&");
  }
}
