#include "rag/search/fts_query.h"

#include <algorithm>
#include <array>

namespace ragd::rag {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one.
size_t utf8_length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}

bool ascii_word_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Cuts at a code-point boundary at or below `max` bytes.
void truncate_utf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  s.resize(cut);
}

// Lucene's English stop set (what BEIR's Elasticsearch BM25 baseline removes).
constexpr std::array<std::string_view, 33> kStopwords = {
    "a",    "an",   "and",  "are",   "as",    "at",   "be",    "but",  "by",
    "for",  "if",   "in",   "into",  "is",    "it",   "no",    "not",  "of",
    "on",   "or",   "such", "that",  "the",   "their", "then", "there", "these",
    "they", "this", "to",   "was",   "will",  "with"};

}  // namespace

bool is_stopword(std::string_view term) {
  return std::find(kStopwords.begin(), kStopwords.end(), term) != kStopwords.end();
}

std::vector<std::string> fts_query_terms(std::string_view text, const FtsQueryOptions& options) {
  std::vector<std::string> terms;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) {
      truncate_utf8(cur, options.max_term_bytes);
      terms.push_back(std::move(cur));
      cur.clear();
    }
  };
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (ascii_word_char(c)) {
      cur += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++i;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      size_t len = utf8_length(text, i);
      if (len == 0) {
        flush();
        ++i;
      } else {
        cur.append(text.substr(i, len));
        i += len;
      }
    } else {
      flush();  // ASCII punctuation, quotes, operators, whitespace, control characters
      ++i;
    }
  }
  flush();
  if (options.drop_stopwords) {
    std::vector<std::string> kept;
    for (auto& t : terms) {
      if (!is_stopword(t)) kept.push_back(t);
    }
    if (!kept.empty()) terms = std::move(kept);
  }
  if (terms.size() > options.max_terms) terms.resize(options.max_terms);
  return terms;
}

std::string build_fts_query(std::string_view text, const FtsQueryOptions& options) {
  std::string out;
  for (const auto& t : fts_query_terms(text, options)) {
    // Terms contain no '"' (it is a separator), so quoting needs no escaping.
    if (!out.empty()) out += " OR ";
    out += '"';
    out += t;
    out += '"';
  }
  return out;
}

}  // namespace ragd::rag
