#include "engine/gbnf_recognizer.h"

#include <algorithm>
#include <utility>

namespace ragd::engine {
namespace {

using Kind = GbnfElement::Kind;

// The first UTF-8 byte of code point cp (monotonic in cp).
uint8_t lead_byte(uint32_t cp) {
  if (cp < 0x80) return static_cast<uint8_t>(cp);
  if (cp < 0x800) return static_cast<uint8_t>(0xC0 | (cp >> 6));
  if (cp < 0x10000) return static_cast<uint8_t>(0xE0 | (cp >> 12));
  return static_cast<uint8_t>(0xF0 | (cp >> 18));
}

}  // namespace

GbnfRecognizer::GbnfRecognizer(const GbnfGrammar& grammar) : grammar_(grammar) {
  work_done_ = 0;
  for (uint32_t alt : grammar_.alternatives(grammar_.root())) {
    Stack s;
    if (grammar_.elements()[alt].kind != Kind::End) s.push_back(alt);
    expand(std::move(s), state_.stacks);
  }
  settle(state_.stacks);
}

// Expands `s` until every resulting stack is empty or has a character class on top.
void GbnfRecognizer::expand(Stack s, std::vector<Stack>& out) {
  const auto& elements = grammar_.elements();
  work_.clear();
  work_.push_back(std::move(s));
  while (!work_.empty()) {
    Stack t = std::move(work_.back());
    work_.pop_back();
    if (t.empty() || elements[t.back()].kind == Kind::Chars) {
      out.push_back(std::move(t));
      continue;
    }
    const uint32_t pos = t.back();
    t.pop_back();
    // The rest of the sequence after the reference, unless the reference ended it (so a
    // right-recursive rule such as `list ::= item list | item` does not grow the stack).
    if (elements[pos + 1].kind != Kind::End) t.push_back(pos + 1);
    for (uint32_t alt : grammar_.alternatives(elements[pos].first)) {
      const size_t depth = t.size() + (elements[alt].kind != Kind::End ? 1 : 0);
      if (depth > kMaxDepth) continue;
      // A hostile grammar: the work is spent, keep what we have. A stack costs its
      // positions plus kStackCost for its allocation and its place in settle's sort.
      if (work_done_ + depth + kStackCost > kMaxWork) break;
      work_done_ += depth + kStackCost;
      Stack u = t;
      if (depth > t.size()) u.push_back(alt);
      work_.push_back(std::move(u));
    }
  }
}

void GbnfRecognizer::settle(std::vector<Stack>& stacks) {
  std::ranges::sort(stacks);
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  if (stacks.size() > kMaxStacks) stacks.resize(kMaxStacks);
  size_t positions = 0, keep = 0;
  while (keep < stacks.size() && positions + stacks[keep].size() <= kMaxPositions) positions += stacks[keep++].size();
  stacks.resize(keep);
}

size_t GbnfRecognizer::positions() const {
  size_t n = 0;
  for (const Stack& s : state_.stacks) n += s.size();
  return n;
}

bool GbnfRecognizer::step_code_point(const std::vector<Stack>& in, std::vector<Stack>& out, uint32_t cp) {
  const auto& elements = grammar_.elements();
  out.clear();
  work_done_ = 0;
  for (const Stack& stack : in) {
    if (stack.empty() || !grammar_.matches(stack.back(), cp)) continue;
    Stack t(stack.begin(), stack.end() - 1);
    const uint32_t pos = stack.back();
    if (elements[pos + 1].kind != Kind::End) t.push_back(pos + 1);
    expand(std::move(t), out);
  }
  settle(out);
  return !out.empty();
}

bool GbnfRecognizer::keep_prefix_matches(const std::vector<Stack>& in, State& out) {
  const unsigned shift = 6u * out.pending;
  const uint32_t lo = std::max(out.prefix << shift, out.min_cp);
  const uint32_t hi = std::min((out.prefix << shift) | ((1u << shift) - 1), uint32_t{0x10FFFF});
  out.stacks.clear();
  for (const Stack& t : in) {
    if (!t.empty() && grammar_.intersects(t.back(), lo, hi)) out.stacks.push_back(t);
  }
  return !out.stacks.empty();
}

bool GbnfRecognizer::step_byte(const State& in, State& out, uint8_t b) {
  out.prefix = in.prefix;
  out.pending = in.pending;
  out.lo = in.lo;
  out.hi = in.hi;
  out.min_cp = in.min_cp;
  State& s = out;
  if (s.pending == 0) {
    if (b < 0x80) return step_code_point(in.stacks, s.stacks, b);
    // Well-formed UTF-8 only (no overlong forms, surrogates or code points past U+10FFFF):
    // the second byte's range depends on the first.
    s.lo = 0x80;
    s.hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      s.pending = 1, s.prefix = b & 0x1F, s.min_cp = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      s.pending = 2, s.prefix = b & 0x0F, s.min_cp = 0x800;
      if (b == 0xE0) s.lo = 0xA0;
      if (b == 0xED) s.hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      s.pending = 3, s.prefix = b & 0x07, s.min_cp = 0x10000;
      if (b == 0xF0) s.lo = 0x90;
      if (b == 0xF4) s.hi = 0x8F;
    } else {
      return false;
    }
    return keep_prefix_matches(in.stacks, s);
  }
  if (b < s.lo || b > s.hi) return false;
  s.lo = 0x80;
  s.hi = 0xBF;
  s.prefix = (s.prefix << 6) | (b & 0x3F);
  if (--s.pending == 0) return step_code_point(in.stacks, s.stacks, s.prefix);
  return keep_prefix_matches(in.stacks, s);
}

bool GbnfRecognizer::can_feed(std::string_view bytes) {
  if (bytes.empty()) {
    scratch_[0] = state_;
    return true;
  }
  // Step i writes scratch_[(n - 1 - i) % 2], so the last step writes scratch_[0].
  const State* in = &state_;
  for (size_t i = 0; i < bytes.size(); ++i) {
    State& out = scratch_[(bytes.size() - 1 - i) % 2];
    if (!step_byte(*in, out, static_cast<uint8_t>(bytes[i]))) return false;
    in = &out;
  }
  return true;
}

bool GbnfRecognizer::feed(std::string_view bytes) {
  if (!can_feed(bytes)) return false;
  std::swap(state_, scratch_[0]);
  return true;
}

bool GbnfRecognizer::complete() const {
  // Stacks are sorted, so an empty one comes first.
  return state_.pending == 0 && !state_.stacks.empty() && state_.stacks.front().empty();
}

bool GbnfRecognizer::done() {
  // Every non-empty stack has a class on top that matches at least one code point, so
  // something could follow unless the only stack is the empty one.
  return complete() && state_.stacks.size() == 1;
}

std::bitset<256> GbnfRecognizer::next_bytes() {
  std::bitset<256> bytes;
  if (state_.pending > 1) {  // a continuation byte that ends no code point: no expansion
    for (int b = state_.lo; b <= state_.hi; ++b) {
      const char c = static_cast<char>(b);
      bytes[static_cast<size_t>(b)] = can_feed({&c, 1});
    }
    return bytes;
  }
  if (state_.pending == 1) {
    // The last byte of a code point: the step after it depends on the code point only
    // through which stacks' classes match it, so bytes whose code points match the same
    // stacks share one step (a class such as `.` would otherwise cost 64 full steps).
    std::vector<std::pair<std::vector<size_t>, bool>> tried;
    for (int b = state_.lo; b <= state_.hi; ++b) {
      const char c = static_cast<char>(b);
      const uint32_t cp = (state_.prefix << 6) | (static_cast<uint32_t>(b) & 0x3F);
      std::vector<size_t> matching;
      for (size_t i = 0; i < state_.stacks.size(); ++i) {
        const Stack& t = state_.stacks[i];
        if (!t.empty() && grammar_.matches(t.back(), cp)) matching.push_back(i);
      }
      if (matching.empty()) continue;
      auto same = std::ranges::find_if(tried, [&](const auto& e) { return e.first == matching; });
      if (same == tried.end()) same = tried.insert(tried.end(), {std::move(matching), can_feed({&c, 1})});
      bytes[static_cast<size_t>(b)] = same->second;
    }
    return bytes;
  }
  const auto& elements = grammar_.elements();
  const auto& ranges = grammar_.ranges();
  for (const Stack& s : state_.stacks) {
    if (s.empty()) continue;
    const GbnfElement& e = elements[s.back()];
    for (uint32_t i = e.first; i < e.first + e.count; ++i) {
      const GbnfRange& r = ranges[i];
      for (uint32_t c = r.lo; c <= std::min(r.hi, 0x7Fu); ++c) bytes[c] = true;
      if (r.hi < 0x80) continue;
      // Each lead byte (C2..F4) stands for a contiguous block of code points, so a range
      // reaches exactly the lead bytes from its first code point's to its last's.
      for (int b = lead_byte(std::max(r.lo, 0x80u)); b <= lead_byte(r.hi); ++b) bytes[static_cast<size_t>(b)] = true;
    }
  }
  return bytes;
}

}  // namespace ragd::engine
