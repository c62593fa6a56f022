#include "rag/ingest/token_counter.h"

namespace ragd::rag {
namespace {

size_t word_tokens(size_t codepoints) {
  if (codepoints == 0) return 0;
  if (codepoints <= 8) return 1;
  return 1 + (codepoints - 8 + 3) / 4;
}

}  // namespace

size_t approx_token_count(std::string_view text) {
  size_t tokens = 0;
  size_t run = 0;  // code points in the current letter/digit run
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
      if (alnum) {
        ++run;
      } else {
        tokens += word_tokens(run);
        run = 0;
        // Spaces and control characters are separators; everything else is punctuation.
        if (c > ' ' && c != 0x7f) ++tokens;
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: 2-byte sequences (Latin with diacritics, Greek, Cyrillic, …) are
    // letters inside a word; 3- and 4-byte sequences (CJK, symbols, emoji) are one token each.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (len == 2) {
      ++run;
    } else {
      tokens += word_tokens(run);
      run = 0;
      ++tokens;
    }
    i += len;
  }
  return tokens + word_tokens(run);
}

}  // namespace ragd::rag
