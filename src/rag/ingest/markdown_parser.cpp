// Plain text and Markdown parsing (see text_parsers.h).
#include <string>
#include <vector>

#include "rag/ingest/section_builder.h"
#include "rag/ingest/text_parsers.h"

namespace ragd::rag {
namespace {

std::string normalise_newlines(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      if (start < s.size()) lines.push_back(s.substr(start));
      break;
    }
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

size_t leading_spaces(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool is_fence(std::string_view line) {
  if (leading_spaces(line) > 3) return false;
  std::string_view t = trim(line);
  return t.starts_with("```") || t.starts_with("~~~");
}

// Returns the level (1–6) of an ATX heading and sets `text`; 0 if the line is not one.
int atx_heading(std::string_view line, std::string& text) {
  if (leading_spaces(line) > 3) return 0;
  std::string_view t = trim(line);
  int level = 0;
  while (level < static_cast<int>(t.size()) && t[static_cast<size_t>(level)] == '#') ++level;
  if (level == 0 || level > 6) return 0;
  if (static_cast<size_t>(level) < t.size() && t[static_cast<size_t>(level)] != ' ' &&
      t[static_cast<size_t>(level)] != '\t') {
    return 0;
  }
  std::string_view rest = trim(t.substr(static_cast<size_t>(level)));
  // A closing sequence of #s is decoration, not text.
  size_t end = rest.find_last_not_of('#');
  if (end == std::string_view::npos) {
    rest = {};
  } else if (end + 1 < rest.size() && (rest[end] == ' ' || rest[end] == '\t')) {
    rest = trim(rest.substr(0, end));
  }
  text = std::string(rest);
  return level;
}

// 1 for "===", 2 for "---" underlines; 0 otherwise.
int setext_level(std::string_view line) {
  if (leading_spaces(line) > 3) return 0;
  std::string_view t = trim(line);
  if (t.empty()) return 0;
  if (t.find_first_not_of('=') == std::string_view::npos) return 1;
  if (t.find_first_not_of('-') == std::string_view::npos) return 2;
  return 0;
}

// Parses "---\nkey: value\n---\n" at the very start; returns the body after it.
std::string_view front_matter(std::string_view s, Document& doc) {
  if (!s.starts_with("---\n")) return s;
  size_t end = s.find("\n---", 3);
  if (end == std::string_view::npos) return s;
  size_t after = s.find('\n', end + 4);
  std::string_view block = end > 4 ? s.substr(4, end - 4) : std::string_view{};
  for (std::string_view line : split_lines(block)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.starts_with(' ')) continue;
    std::string key(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (key.empty() || value.empty()) continue;
    if (key == "title") {
      doc.title = std::string(value);
    } else {
      doc.metadata[key] = std::string(value);
    }
  }
  return after == std::string_view::npos ? std::string_view{} : s.substr(after + 1);
}

}  // namespace

Document parse_plain_text(std::string_view content, std::string fallback_title) {
  Document doc;
  doc.title = std::move(fallback_title);
  std::string text = normalise_newlines(content);
  std::string_view body = trim(text);
  if (!body.empty()) doc.sections.push_back(Section{"", std::string(body)});
  return doc;
}

Document parse_markdown(std::string_view content, std::string fallback_title) {
  Document doc;
  std::string text = normalise_newlines(content);
  std::string_view body = front_matter(text, doc);
  bool title_from_front_matter = !doc.title.empty();
  SectionBuilder sections;
  bool in_fence = false;
  bool prev_text_line = false;  // the previous line was non-blank body text
  std::string heading_text;
  for (std::string_view line : split_lines(body)) {
    if (is_fence(line)) in_fence = !in_fence;
    int level = in_fence ? 0 : atx_heading(line, heading_text);
    int setext = (!in_fence && prev_text_line) ? setext_level(line) : 0;
    if (setext) {
      // The previous line was the heading's text: take it back out of the body.
      std::string& cur = sections.current_text();
      cur.pop_back();  // its '\n'
      size_t start = cur.rfind('\n');
      start = start == std::string::npos ? 0 : start + 1;
      heading_text = std::string(trim(std::string_view(cur).substr(start)));
      cur.erase(start);
      level = setext;
    }
    if (level) {
      if (level == 1 && doc.title.empty() && !title_from_front_matter) {
        doc.title = heading_text;  // the title is not repeated in every heading path
        sections.heading(1, "");
      } else {
        sections.heading(level, heading_text);
      }
      prev_text_line = false;
      continue;
    }
    sections.append(line);
    sections.append("\n");
    prev_text_line = !in_fence && !trim(line).empty() && !is_fence(line);
  }
  doc.sections = sections.finish();
  if (doc.title.empty()) doc.title = std::move(fallback_title);
  return doc;
}

}  // namespace ragd::rag
