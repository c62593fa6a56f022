#include "rag/answer/content_words.h"

#include <cctype>

namespace ragd::rag {
namespace {

// Words that carry no content: sharing them says nothing about where an answer came from.
bool stopword(const std::string& w) {
  static const std::set<std::string> words = {
      "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or",
      "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "as", "which",
      "who", "what", "when", "where", "how", "he", "she", "they", "his", "her", "their"};
  return words.count(w) > 0;
}

}  // namespace

std::set<std::string> content_words(std::string_view text) {
  std::set<std::string> out;
  std::string w;
  bool in_bracket = false;
  auto flush = [&] {
    if (!w.empty() && !in_bracket && !stopword(w)) out.insert(w);
    w.clear();
  };
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || (c & 0x80)) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    flush();
    if (c == '[') in_bracket = true;
    if (c == ']') in_bracket = false;
  }
  flush();
  return out;
}

size_t shared_words(const std::set<std::string>& a, const std::set<std::string>& b) {
  size_t n = 0;
  for (const auto& w : a) n += b.count(w);
  return n;
}

}  // namespace ragd::rag
