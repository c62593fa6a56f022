#include "model/tokenizer_unicode.h"

#include <algorithm>
#include <array>

namespace ragd::model::unicode {

uint8_t category(uint32_t cpt) {
  using data::kCategoryRangeCount;
  using data::kCategoryRanges;
  if (cpt >= 0x110000) return kUndefined;
  // Last range whose start <= cpt (the first range starts at 0).
  const CategoryRange* end = kCategoryRanges + kCategoryRangeCount;
  const CategoryRange* it = std::upper_bound(
      kCategoryRanges, end, cpt, [](uint32_t c, const CategoryRange& r) { return c < r.start; });
  return (it - 1)->flag;
}

bool is_whitespace(uint32_t cpt) {
  if (cpt < 0x80) return cpt == ' ' || (cpt >= '\t' && cpt <= '\r');
  switch (cpt) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return cpt >= 0x2000 && cpt <= 0x200A;
  }
}

uint32_t to_lower(uint32_t cpt) {
  if (cpt < 0x80) return (cpt >= 'A' && cpt <= 'Z') ? cpt + 32 : cpt;
  const CodepointPair* end = data::kLowercase + data::kLowercaseCount;
  const CodepointPair* it = std::lower_bound(
      data::kLowercase, end, cpt, [](const CodepointPair& p, uint32_t c) { return p.from < c; });
  return (it != end && it->from == cpt) ? it->to : cpt;
}

uint32_t nfd_base(uint32_t cpt) {
  if (cpt < 0xC0) return cpt;
  const NfdRange* end = data::kNfdRanges + data::kNfdRangeCount;
  const NfdRange* it = std::upper_bound(data::kNfdRanges, end, cpt,
                                        [](uint32_t c, const NfdRange& r) { return c < r.first; });
  if (it == data::kNfdRanges) return cpt;
  --it;
  return cpt <= it->last ? it->base : cpt;
}

namespace {

// Length of the valid sequence at `pos`, or 0 when the bytes there are not valid UTF-8.
size_t valid_seq_len(std::string_view s, size_t pos) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[pos + i]); };
  const size_t left = s.size() - pos;
  const uint8_t c = b(0);
  if (c < 0x80) return 1;
  const auto cont = [&](size_t i) { return i < left && (b(i) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

uint32_t decode_utf8(std::string_view text, size_t& pos) {
  const size_t n = valid_seq_len(text, pos);
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[pos + i])); };
  uint32_t cpt;
  switch (n) {
    case 1: cpt = b(0); break;
    case 2: cpt = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F); break;
    case 3: cpt = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F); break;
    case 4:
      cpt = ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
      break;
    default:
      pos += 1;
      return kReplacementChar;
  }
  pos += n;
  return cpt;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    append_utf8(out, kReplacementChar);
  }
}

std::vector<uint32_t> to_codepoints(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) out.push_back(decode_utf8(text, pos));
  return out;
}

size_t valid_utf8_prefix(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    // ASCII fast path: most input is plain text.
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = valid_seq_len(text, pos);
    if (n == 0) break;
    pos += n;
  }
  return pos;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t good = valid_utf8_prefix(text.substr(pos));
    out.append(text.substr(pos, good));
    pos += good;
    if (pos < text.size()) {
      append_utf8(out, kReplacementChar);
      ++pos;
    }
  }
  return out;
}

size_t incomplete_utf8_tail(std::string_view text) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  const size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<uint8_t>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (c < 0xC2 || c > 0xF4) return 0;
    if (utf8_len(c) <= back) return 0;  // complete (or malformed: not ours to hold back)
    if (back >= 2) {
      // The second byte's range depends on the lead (no overlongs, surrogates, > U+10FFFF).
      const auto c1 = static_cast<uint8_t>(text[n - back + 1]);
      uint8_t lo = 0x80, hi = 0xBF;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
      if (c1 < lo || c1 > hi) return 0;
    }
    return back;
  }
  return 0;
}

namespace {

struct ByteAlphabet {
  std::array<std::string, 256> symbol;
  std::array<int16_t, 324> byte_of;  // indexed by code point; the alphabet ends at U+0143
  ByteAlphabet() {
    byte_of.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cpt = printable ? b : next++;
      append_utf8(symbol[b], cpt);
      byte_of[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

const std::string& byte_symbol(uint8_t byte) { return alphabet().symbol[byte]; }

int symbol_byte(uint32_t cpt) {
  const auto& a = alphabet();
  return cpt < a.byte_of.size() ? a.byte_of[cpt] : -1;
}

}  // namespace ragd::model::unicode
