#include "engine/json_recognizer.h"

#include <algorithm>
#include <utility>

namespace ragd::engine {
namespace {

// Value frames: `state` is 1 while one space may still precede the value.
// Object states.
constexpr uint8_t kObjOpen = 0, kObjAfterKey = 1, kObjAfterValue = 2, kObjAfterComma = 3, kObjAfterSpace = 4;
// Array states.
constexpr uint8_t kArrOpen = 0, kArrAfterValue = 1;
// String states: escapes, then UTF-8 continuation bytes with the range the next one must be in.
constexpr uint8_t kStrNormal = 0, kStrEscape = 1, kStrHex0 = 2, kStrHex1 = 3, kStrHex2 = 4, kStrHex3 = 5,
                  kStrHexD = 6, kStrCont = 7, kStrContA0 = 8, kStrCont9F = 9, kStrCont90 = 10, kStrCont8F = 11;
// Number states.
constexpr uint8_t kNumStart = 0, kNumSign = 1, kNumZero = 2, kNumInt = 3, kNumDot = 4, kNumFrac = 5, kNumExp = 6,
                  kNumExpSign = 7, kNumExpDigits = 8;
constexpr uint32_t kMaxIntDigits = 15, kMaxFracDigits = 15, kMaxExpDigits = 3;

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

JsonRecognizer::JsonRecognizer(const JsonSchemaGrammar& grammar) {
  stacks_.push_back({Frame{grammar.root(), Kind::Value, 0, 0, 0}});
}

bool JsonRecognizer::run(std::string_view bytes, std::vector<Stack>& into) {
  into = stacks_;
  for (char ch : bytes) {
    scratch_b_.clear();
    for (Stack& s : into) step(std::move(s), static_cast<uint8_t>(ch), scratch_b_);
    if (scratch_b_.size() > kMaxStacks) scratch_b_.resize(kMaxStacks);  // still sound: each is valid
    into.swap(scratch_b_);
    if (into.empty()) return false;
  }
  return true;
}

bool JsonRecognizer::feed(std::string_view bytes) {
  if (!run(bytes, scratch_a_)) return false;
  stacks_.swap(scratch_a_);
  return true;
}

bool JsonRecognizer::can_feed(std::string_view bytes) { return run(bytes, scratch_a_); }

bool JsonRecognizer::complete() const {
  return std::ranges::any_of(stacks_, [](const Stack& s) {
    return s.empty() || (s.size() == 1 && s[0].kind == Kind::Number && number_can_end(s[0]));
  });
}

bool JsonRecognizer::done() {
  if (std::ranges::all_of(stacks_, [](const Stack& s) { return s.empty(); })) return true;
  return complete() && next_bytes().none();
}

std::bitset<256> JsonRecognizer::next_bytes() {
  std::bitset<256> bytes;
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    bytes[c] = can_feed({&ch, 1});
  }
  return bytes;
}

// Consumes c on stack s; every stack that survives goes to `out` (several when s forks).
void JsonRecognizer::step(Stack s, uint8_t c, std::vector<Stack>& out) const {
  while (!s.empty()) {
    Frame& f = s.back();
    switch (f.kind) {
      case Kind::Value:
        dispatch_value(s, c, out);
        return;
      case Kind::Literal:
      case Kind::Key: {
        const std::string& text = f.kind == Kind::Literal ? f.node->literals[f.a] : f.node->properties[f.a].key;
        if (static_cast<uint8_t>(text[f.b]) != c) return;
        if (++f.b == text.size()) s.pop_back();
        out.push_back(std::move(s));
        return;
      }
      case Kind::String: {
        bool closed = false;
        if (!step_string(f, c, closed)) return;
        if (closed) s.pop_back();
        out.push_back(std::move(s));
        return;
      }
      case Kind::Number: {
        const int r = step_number(f, c);
        if (r < 0) return;
        if (r > 0) {
          out.push_back(std::move(s));
          return;
        }
        s.pop_back();  // the number ended before c: its container takes c
        continue;
      }
      case Kind::Object:
        step_object(s, c, out);
        return;
      case Kind::Array: {
        const int r = step_array(s, c);
        if (r < 0) return;
        if (r > 0) {
          out.push_back(std::move(s));
          return;
        }
        continue;  // an array's first item begins with c
      }
    }
  }
  // Nothing may follow the top-level value.
}

void JsonRecognizer::dispatch_value(Stack& s, uint8_t c, std::vector<Stack>& out) const {
  Frame& f = s.back();
  if (c == ' ' && f.state == 1) {
    f.state = 0;
    out.push_back(std::move(s));
    return;
  }
  const JsonNode* n = f.node;
  switch (n->kind) {
    case JsonNode::Kind::AnyOf:
      for (const JsonNode* alt : n->alternatives) {
        Stack t = s;
        t.back() = Frame{alt, Kind::Value, 0, 0, 0};
        step(std::move(t), c, out);
      }
      return;
    case JsonNode::Kind::Literals:
      for (uint32_t i = 0; i < n->literals.size(); ++i) {
        if (static_cast<uint8_t>(n->literals[i][0]) != c) continue;
        Stack t = s;
        t.back() = Frame{n, Kind::Literal, 0, i, 0};
        step(std::move(t), c, out);
      }
      return;
    case JsonNode::Kind::Object:
    case JsonNode::Kind::Array: {
      const bool object = n->kind == JsonNode::Kind::Object;
      if (c != (object ? '{' : '[') || s.size() >= kMaxStack) return;
      f = Frame{n, object ? Kind::Object : Kind::Array, 0, 0, 0};
      out.push_back(std::move(s));
      return;
    }
    case JsonNode::Kind::String:
      if (c != '"') return;
      f = Frame{n, Kind::String, kStrNormal, 0, 0};
      out.push_back(std::move(s));
      return;
    case JsonNode::Kind::Number:
    case JsonNode::Kind::Integer:
      f = Frame{n, Kind::Number, kNumStart, 0, 0};
      step(std::move(s), c, out);
      return;
  }
}

void JsonRecognizer::step_object(Stack& s, uint8_t c, std::vector<Stack>& out) const {
  Frame& f = s.back();
  const JsonNode* n = f.node;
  const bool declared = !n->properties.empty();
  const auto count = static_cast<uint32_t>(n->properties.size());
  // Declared objects may close once no required property is left.
  const bool closable = !declared || n->next_required[f.a] == count;
  switch (f.state) {
    case kObjAfterKey:
      if (c != ':') return;
      f.state = kObjAfterValue;
      s.push_back(Frame{declared ? n->properties[f.a - 1].value : n->additional, Kind::Value, 1, 0, 0});
      out.push_back(std::move(s));
      return;
    case kObjAfterValue:
      if (c == ',' && (!declared || f.a < count)) {
        f.state = kObjAfterComma;
      } else if (c == '}' && closable) {
        s.pop_back();
      } else {
        return;
      }
      out.push_back(std::move(s));
      return;
    case kObjAfterComma:
      if (c == ' ') {
        f.state = kObjAfterSpace;
        out.push_back(std::move(s));
        return;
      }
      break;
    default:
      break;
  }
  if (c == '}' && f.state == kObjOpen && closable) {
    s.pop_back();
    out.push_back(std::move(s));
    return;
  }
  if (c != '"') return;
  if (!declared) {  // free-form: any string key, if keys are allowed at all
    if (!n->additional) return;
    f.state = kObjAfterKey;
    s.push_back(Frame{nullptr, Kind::String, kStrNormal, 0, 0});
    out.push_back(std::move(s));
    return;
  }
  // The next key: any property from f.a up to and including the first required one.
  const uint32_t last = std::min(n->next_required[f.a], count - 1);
  const uint32_t from = f.a;
  f.state = kObjAfterKey;
  for (uint32_t k = from; k <= last; ++k) {
    f.a = k + 1;  // f is s's top: each copy records its own key
    Stack t = s;
    t.push_back(Frame{n, Kind::Key, 0, k, 0});
    out.push_back(std::move(t));
  }
}

// 1: took c; 0: the first item begins with c (its Value frame is now on top); -1: invalid.
int JsonRecognizer::step_array(Stack& s, uint8_t c) const {
  Frame& f = s.back();
  const JsonNode* n = f.node;
  if (f.state == kArrOpen) {
    if (c == ']') {
      if (n->min_count > 0) return -1;
      s.pop_back();
      return 1;
    }
    if (n->max_count == 0) return -1;
    f.state = kArrAfterValue;
    f.a = 1;
    s.push_back(Frame{n->items, Kind::Value, 0, 0, 0});
    return 0;
  }
  if (c == ',' && f.a < n->max_count) {
    ++f.a;
    s.push_back(Frame{n->items, Kind::Value, 1, 0, 0});
    return 1;
  }
  if (c == ']' && f.a >= n->min_count) {
    s.pop_back();
    return 1;
  }
  return -1;
}

bool JsonRecognizer::step_string(Frame& f, uint8_t c, bool& closed) {
  const uint32_t lo = f.node ? f.node->min_count : 0;
  const uint32_t hi = f.node ? f.node->max_count : UINT32_MAX;
  auto continuation = [&](uint8_t min, uint8_t max) {
    if (c < min || c > max) return false;
    f.state = --f.b ? kStrCont : kStrNormal;
    return true;
  };
  auto lead = [&](uint8_t state, uint32_t more) {
    f.state = state;
    f.b = more;
    return true;
  };
  switch (f.state) {
    case kStrNormal:
      if (c == '"') return (closed = f.a >= lo);
      if (c < 0x20 || f.a >= hi) return false;
      ++f.a;  // code points (an escape counts as one)
      if (c == '\\') return lead(kStrEscape, 0);
      if (c < 0x80) return true;
      if (c >= 0xC2 && c <= 0xDF) return lead(kStrCont, 1);
      if (c == 0xE0) return lead(kStrContA0, 2);
      if (c == 0xED) return lead(kStrCont9F, 2);  // no UTF-16 surrogates
      if (c >= 0xE1 && c <= 0xEF) return lead(kStrCont, 2);
      if (c == 0xF0) return lead(kStrCont90, 3);
      if (c >= 0xF1 && c <= 0xF3) return lead(kStrCont, 3);
      if (c == 0xF4) return lead(kStrCont8F, 3);
      return false;
    case kStrEscape:
      if (c == 'u') return lead(kStrHex0, 0);
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(c)) == std::string_view::npos) return false;
      f.state = kStrNormal;
      return true;
    case kStrHex0:
      if (!is_hex(c)) return false;
      f.state = (c == 'd' || c == 'D') ? kStrHexD : kStrHex1;
      return true;
    case kStrHexD:  // \uD800-\uDFFF are surrogates
      if (!is_digit(c) || c > '7') return false;
      f.state = kStrHex2;
      return true;
    case kStrHex1:
    case kStrHex2:
    case kStrHex3:
      if (!is_hex(c)) return false;
      f.state = f.state == kStrHex3 ? kStrNormal : static_cast<uint8_t>(f.state + 1);
      return true;
    case kStrCont: return continuation(0x80, 0xBF);
    case kStrContA0: return continuation(0xA0, 0xBF);
    case kStrCont9F: return continuation(0x80, 0x9F);
    case kStrCont90: return continuation(0x90, 0xBF);
    case kStrCont8F: return continuation(0x80, 0x8F);
  }
  return false;
}

bool JsonRecognizer::number_can_end(const Frame& f) {
  return f.state == kNumZero || f.state == kNumInt || f.state == kNumFrac || f.state == kNumExpDigits;
}

int JsonRecognizer::step_number(Frame& f, uint8_t c) {
  const bool digit = is_digit(c);
  const bool integer = f.node->kind == JsonNode::Kind::Integer;
  auto to = [&](uint8_t state, uint32_t digits) {
    f.state = state;
    f.b = digits;
    return 1;
  };
  switch (f.state) {
    case kNumStart:
      if (c == '-') return to(kNumSign, 0);
      [[fallthrough]];
    case kNumSign:
      if (c == '0') return to(kNumZero, 1);
      return digit ? to(kNumInt, 1) : -1;
    case kNumZero:
    case kNumInt:
      if (digit) return f.state == kNumInt && f.b < kMaxIntDigits ? to(kNumInt, f.b + 1) : -1;
      if (!integer && c == '.') return to(kNumDot, 0);
      if (!integer && (c == 'e' || c == 'E')) return to(kNumExp, 0);
      return 0;
    case kNumDot:
      return digit ? to(kNumFrac, 1) : -1;
    case kNumFrac:
      if (digit) return f.b < kMaxFracDigits ? to(kNumFrac, f.b + 1) : -1;
      if (c == 'e' || c == 'E') return to(kNumExp, 0);
      return 0;
    case kNumExp:
      if (c == '+' || c == '-') return to(kNumExpSign, 0);
      [[fallthrough]];
    case kNumExpSign:
      return digit ? to(kNumExpDigits, 1) : -1;
    case kNumExpDigits:
      if (digit) return f.b < kMaxExpDigits ? to(kNumExpDigits, f.b + 1) : -1;
      return 0;
  }
  return -1;
}

}  // namespace ragd::engine
