// HTML to text (see text_parsers.h). A forgiving scanner, not a DOM parser: it needs no
// well-formed input and never fails; anything it cannot read as a tag is text.
#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "rag/ingest/section_builder.h"
#include "rag/ingest/text_parsers.h"
#include "util/text.h"

namespace ragd::rag {
namespace {

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_block(std::string_view tag) {
  return one_of(tag, {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article",
                      "header", "footer", "blockquote", "pre", "hr", "dd", "dt", "dl", "main",
                      "nav", "aside", "figure", "figcaption", "form", "td", "th", "body"});
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

struct NamedEntity {
  std::string_view name;
  uint32_t cp;
};
constexpr std::array<NamedEntity, 22> kEntities = {{
    {"amp", '&'},     {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},   {"nbsp", ' '},     {"ndash", 0x2013}, {"mdash", 0x2014},
    {"hellip", 0x2026}, {"copy", 0xa9},  {"reg", 0xae},     {"trade", 0x2122},
    {"laquo", 0xab},  {"raquo", 0xbb},   {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201c}, {"rdquo", 0x201d}, {"eacute", 0xe9}, {"egrave", 0xe8},
    {"uuml", 0xfc},   {"middot", 0xb7},
}};

// Parses one reference starting at text[i] == '&'; returns chars consumed (0 = not one).
size_t decode_one(std::string_view text, size_t i, std::string& out) {
  size_t semi = text.find(';', i + 1);
  if (semi == std::string_view::npos || semi - i > 12) return 0;
  std::string_view body = text.substr(i + 1, semi - i - 1);
  if (body.size() >= 2 && body[0] == '#') {
    bool hex = body[1] == 'x' || body[1] == 'X';
    std::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    uint32_t cp = 0;
    for (char c : digits) {
      int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
              : hex && std::isxdigit(static_cast<unsigned char>(c))
                  ? (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10)
                  : -1;
      if (v < 0) return 0;
      cp = std::min<uint32_t>(cp * (hex ? 16 : 10) + static_cast<uint32_t>(v), 0x110000);
    }
    append_utf8(out, cp);
    return semi - i + 1;
  }
  for (const auto& e : kEntities) {
    if (e.name == body) {
      append_utf8(out, e.cp);
      return semi - i + 1;
    }
  }
  return 0;
}

// Scans the HTML once, feeding text into `sections`, headings into its stack.
class HtmlScanner {
 public:
  explicit HtmlScanner(std::string_view html) : html_(html) {}
  Document run(std::string fallback_title);

 private:
  size_t tag_end(size_t from) const;
  void on_tag(std::string_view tag, bool closing);
  void text(std::string_view raw);
  void skip_element(std::string_view tag, size_t& i);

  std::string_view html_;
  SectionBuilder sections_;
  std::string title_, first_h1_;
  std::string heading_;  // text of the heading being read
  int heading_level_ = 0;
  bool in_title_ = false;
  int pre_depth_ = 0;
};

size_t HtmlScanner::tag_end(size_t from) const {
  char quote = 0;
  for (size_t i = from; i < html_.size(); ++i) {
    char c = html_[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

void HtmlScanner::skip_element(std::string_view tag, size_t& i) {
  // Case-insensitive search for "</tag" without copying the rest of the document.
  for (size_t at = html_.find("</", i); at != std::string_view::npos; at = html_.find("</", at + 2)) {
    std::string_view name = html_.substr(at + 2, tag.size());
    if (ascii_lower(name) == tag) {
      size_t end = html_.find('>', at);
      i = end == std::string_view::npos ? html_.size() : end + 1;
      return;
    }
  }
  i = html_.size();
}

void HtmlScanner::on_tag(std::string_view tag, bool closing) {
  if (tag == "title") {
    in_title_ = !closing;
    return;
  }
  if (tag.size() == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6') {
    if (!closing) {
      heading_level_ = tag[1] - '0';
      heading_.clear();
    } else if (heading_level_) {
      std::string h(trim(heading_));
      if (heading_level_ == 1 && first_h1_.empty()) first_h1_ = h;
      sections_.heading(heading_level_, h);
      heading_level_ = 0;
    }
    return;
  }
  if (tag == "pre") pre_depth_ = std::max(0, pre_depth_ + (closing ? -1 : 1));
  if (is_block(tag)) sections_.append(tag == "br" ? "\n" : "\n\n");
}

void HtmlScanner::text(std::string_view raw) {
  std::string decoded = decode_html_entities(raw);
  std::string* out = in_title_ ? &title_ : heading_level_ ? &heading_ : &sections_.current_text();
  if (pre_depth_ > 0 && out == &sections_.current_text()) {
    out->append(decoded);
    return;
  }
  // Outside <pre>, any run of whitespace is one space.
  for (char c : decoded) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
    if (!space) {
      *out += c;
    } else if (!out->empty() && out->back() != ' ' && out->back() != '\n') {
      *out += ' ';
    }
  }
}

Document HtmlScanner::run(std::string fallback_title) {
  size_t i = 0;
  while (i < html_.size()) {
    size_t lt = html_.find('<', i);
    if (lt == std::string_view::npos) lt = html_.size();
    if (lt > i) text(html_.substr(i, lt - i));
    if (lt >= html_.size()) break;
    i = lt;
    if (html_.substr(i).starts_with("<!--")) {
      size_t end = html_.find("-->", i + 4);
      i = end == std::string_view::npos ? html_.size() : end + 3;
      continue;
    }
    size_t gt = tag_end(i + 1);
    if (gt == std::string_view::npos) {  // a lone '<' is text
      text(html_.substr(i, 1));
      ++i;
      continue;
    }
    std::string_view inner = html_.substr(i + 1, gt - i - 1);
    i = gt + 1;
    bool closing = !inner.empty() && inner[0] == '/';
    if (closing) inner.remove_prefix(1);
    size_t name_len = 0;
    while (name_len < inner.size() && std::isalnum(static_cast<unsigned char>(inner[name_len]))) {
      ++name_len;
    }
    std::string tag = ascii_lower(inner.substr(0, name_len));
    if (tag.empty()) continue;  // <!DOCTYPE>, <?xml?>
    if (!closing && one_of(tag, {"script", "style", "template", "noscript", "svg"})) {
      skip_element(tag, i);
      continue;
    }
    on_tag(tag, closing);
  }
  Document doc;
  doc.sections = sections_.finish();
  doc.title = std::string(trim(title_));
  if (doc.title.empty()) doc.title = first_h1_;
  if (doc.title.empty()) doc.title = std::move(fallback_title);
  return doc;
}

}  // namespace

std::string decode_html_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      size_t used = decode_one(text, i, out);
      if (used) {
        i += used - 1;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

Document parse_html(std::string_view content, std::string fallback_title) {
  return HtmlScanner(content).run(std::move(fallback_title));
}

}  // namespace ragd::rag
