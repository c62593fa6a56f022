#include "model/tokenizer_spm.h"

#include <fmt/format.h>

#include <queue>
#include <unordered_map>

#include "model/tokenizer_unicode.h"

namespace ragd::model {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 "▁"

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte of a "<0xXX>" token text, or -1.
int byte_of_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int hi = hex_value(text[3]), lo = hex_value(text[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

}  // namespace

SpmTokenizer::SpmTokenizer(const GgufFile& file) : Tokenizer(file, VocabKind::Spm) {
  for (int b = 0; b < 256; ++b) {
    int32_t id = lookup(fmt::format("<0x{:02X}>", b));
    // Vocabularies without byte tokens may still hold the byte itself as a token.
    if (id < 0 && b < 0x80) id = lookup(std::string(1, static_cast<char>(b)));
    byte_token_[b] = id;
  }
  // Word chunking is exact only if no token has a "▁" right after another character.
  word_chunks_ = true;
  for (const auto& t : tokens_) {
    for (size_t at = t.text.find(kSpace, 1); at != std::string::npos; at = t.text.find(kSpace, at + 1)) {
      if (!std::string_view(t.text).substr(0, at).ends_with(kSpace)) word_chunks_ = false;
    }
  }
  finish_init();
}

std::string SpmTokenizer::normal_piece(int32_t id) const {
  const std::string& text = tokens_[id].text;
  if (tokens_[id].type == TokenType::Byte) {
    const int b = byte_of_token(text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpace.size(), kSpace) == 0) {
      out.push_back(' ');
      pos += kSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

void SpmTokenizer::push_bytes(std::string_view bytes, std::vector<int32_t>& out) const {
  for (char c : bytes) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      out.push_back(id);
    } else if (unk_ >= 0) {
      out.push_back(unk_);
    }
  }
}

void SpmTokenizer::encode_text(std::string_view raw, bool after_special,
                               std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(raw.size() + 8);
  if (add_space_prefix_ && after_special) text += kSpace;
  for (char c : raw) {
    if (c == ' ') {
      text += kSpace;
    } else {
      text.push_back(c);
    }
  }
  if (!word_chunks_) {
    encode_chunk(text, out);
    return;
  }
  // No token spans "x▁" (x not ▁), so cutting there gives the same merges as encoding the
  // whole text, chunk by chunk. Repeated chunks (words) reuse their first ids in `out`.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>, StringHash, std::equal_to<>> seen;
  const std::string_view all(text);
  size_t begin = 0;
  while (begin < all.size()) {
    size_t end = begin;
    while (true) {
      end = all.find(kSpace, end + 1);
      if (end == std::string_view::npos) {
        end = all.size();
        break;
      }
      if (!all.substr(0, end).ends_with(kSpace)) break;  // a word starts here
    }
    const std::string_view chunk = all.substr(begin, end - begin);
    if (auto it = seen.find(chunk); it != seen.end()) {
      const auto [offset, count] = it->second;
      for (size_t k = 0; k < count; ++k) out.push_back(out[offset + k]);
    } else {
      const size_t offset = out.size();
      encode_chunk(chunk, out);
      seen.emplace(chunk, std::make_pair(offset, out.size() - offset));
    }
    begin = end;
  }
}

void SpmTokenizer::encode_chunk(std::string_view text, std::vector<int32_t>& out) const {
  // One symbol per UTF-8 character, linked in a list; a merge grows the left symbol over the
  // right one and unlinks it. Every merged symbol's text is a token by construction.
  struct Symbol {
    uint32_t start, len;  // bytes of `text`; len == 0 once merged away
    int32_t prev, next;
  };
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(unicode::utf8_len(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), i - 1, i + 1});
    pos += len;
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Candidate {
    float score;
    int32_t left, right;
    uint32_t len;  // left.len + right.len when queued
    bool operator<(const Candidate& o) const {  // pops the highest score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> queue;
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t len = sym[left].len + sym[right].len;
    const int32_t id = lookup(text.substr(sym[left].start, len));
    if (id >= 0) queue.push({tokens_[id].score, left, right, len});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    // Stale if either side merged since: merging changes a symbol's length or zeroes it.
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.len) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = sym[i].next) {
    const std::string_view piece = text.substr(sym[i].start, sym[i].len);
    const int32_t id = lookup(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      push_bytes(piece, out);  // only single characters can be missing from the vocabulary
    }
  }
}

}  // namespace ragd::model
