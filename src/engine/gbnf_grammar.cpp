#include "engine/gbnf_grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "util/error.h"

namespace ragd::engine {

bool GbnfGrammar::matches(uint32_t pos, uint32_t cp) const {
  const GbnfElement& e = elements_[pos];
  const GbnfRange* begin = ranges_.data() + e.first;
  const GbnfRange* end = begin + e.count;
  // Ranges are sorted and disjoint: the first whose hi >= cp is the only candidate.
  const GbnfRange* r = std::lower_bound(begin, end, cp, [](const GbnfRange& g, uint32_t c) { return g.hi < c; });
  return r != end && r->lo <= cp;
}

bool GbnfGrammar::intersects(uint32_t pos, uint32_t lo, uint32_t hi) const {
  const GbnfElement& e = elements_[pos];
  const GbnfRange* begin = ranges_.data() + e.first;
  const GbnfRange* end = begin + e.count;
  const GbnfRange* r = std::lower_bound(begin, end, lo, [](const GbnfRange& g, uint32_t c) { return g.hi < c; });
  return r != end && r->lo <= hi;
}

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint64_t kUnbounded = std::numeric_limits<uint64_t>::max();

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Sorted, merged, with surrogates removed (UTF-8 cannot carry them, so a class that
// matched only surrogates would corner the recognizer); negated against [0, 0x10FFFF].
std::vector<GbnfRange> normalise(std::vector<GbnfRange> in, bool negated) {
  std::ranges::sort(in, [](const GbnfRange& a, const GbnfRange& b) { return a.lo < b.lo; });
  std::vector<GbnfRange> merged;
  for (const GbnfRange& r : in) {
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (negated) {
    std::vector<GbnfRange> complement;
    uint32_t next = 0;
    for (const GbnfRange& r : merged) {
      if (r.lo > next) complement.push_back({next, r.lo - 1});
      next = r.hi + 1;
    }
    if (next <= kMaxCodePoint) complement.push_back({next, kMaxCodePoint});
    merged = std::move(complement);
  }
  std::vector<GbnfRange> out;
  for (const GbnfRange& r : merged) {
    if (r.hi < 0xD800 || r.lo > 0xDFFF) {
      out.push_back(r);
      continue;
    }
    if (r.lo < 0xD800) out.push_back({r.lo, 0xD7FF});
    if (r.hi > 0xDFFF) out.push_back({0xE000, r.hi});
  }
  return out;
}

}  // namespace

// Recursive descent over the text, building rules of unflattened alternatives; run()
// then checks them and flattens them into the grammar.
class GbnfCompiler {
 public:
  explicit GbnfCompiler(std::string_view text) : text_(text) {}

  std::shared_ptr<const GbnfGrammar> run() {
    if (text_.size() > GbnfGrammar::kMaxTextBytes) {
      fail("the grammar is {} bytes; at most {} are accepted", text_.size(), GbnfGrammar::kMaxTextBytes);
    }
    space(true);
    while (pos_ < text_.size()) parse_rule();
    auto it = index_.find("root");
    if (it == index_.end() || !rules_[it->second].defined) fail("the grammar has no 'root' rule (the start symbol)");
    for (const Rule& r : rules_) {
      if (!r.defined) fail_at(r.first_use, "undefined rule '{}'", r.name);
    }
    check_left_recursion();
    return flatten(it->second);
  }

 private:
  using Sequence = std::vector<GbnfElement>;
  struct Rule {
    std::string name;
    std::vector<Sequence> alternatives;
    bool defined = false;
    size_t first_use = 0;  // text position of the first reference, for "undefined rule"
    std::string origin;    // generated rules: what they stand for
  };

  template <typename... Args>
  [[noreturn]] void fail_at(size_t pos, fmt::format_string<Args...> format, Args&&... args) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw Error(fmt::format("line {}, column {}: {}", line, column, fmt::format(format, std::forward<Args>(args)...)));
  }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  // Spaces, tabs and comments; line breaks too when `newlines` (inside groups, after
  // `::=` and `|`, between rules).
  void space(bool newlines) {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string_view name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_word_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  uint32_t rule_index(std::string_view n, size_t use) {
    auto [it, added] = index_.try_emplace(std::string(n), static_cast<uint32_t>(rules_.size()));
    if (added) {
      if (rules_.size() >= GbnfGrammar::kMaxRules) fail_at(use, "more than {} rules", GbnfGrammar::kMaxRules);
      rules_.push_back(Rule{std::string(n), {}, false, use, {}});
    }
    return it->second;
  }

  // A rule for a group or a repetition inside rule `base`; its alternatives come later.
  uint32_t generated_rule(const std::string& base, std::string origin) {
    if (rules_.size() >= GbnfGrammar::kMaxRules) {
      fail_at(pos_, "more than {} rules (groups and repetitions count)", GbnfGrammar::kMaxRules);
    }
    const auto r = static_cast<uint32_t>(rules_.size());
    // '_' is not a name character, so a generated name never clashes with a written one.
    rules_.push_back(Rule{fmt::format("{}_{}", base, r), {}, true, pos_, std::move(origin)});
    return r;
  }

  void charge(uint64_t elements) {
    elements_ += elements;
    if (elements_ > GbnfGrammar::kMaxElements) {
      fail_at(pos_, "the grammar expands to more than {} elements (repetitions count once per copy)",
              GbnfGrammar::kMaxElements);
    }
  }

  void parse_rule() {
    const size_t start = pos_;
    std::string_view n = name();
    if (n.empty()) fail_at(start, "expected a rule name (letters, digits and '-'){}", unexpected());
    space(false);
    if (text_.substr(pos_, 3) != "::=") fail_at(pos_, "expected '::=' after the rule name '{}'{}", n, unexpected());
    pos_ += 3;
    space(true);
    const uint32_t r = rule_index(n, start);
    if (rules_[r].defined) fail_at(start, "rule '{}' is defined twice", n);
    rules_[r].defined = true;
    std::string rule_name(n);
    auto alternatives = parse_alternatives(rule_name, false);
    rules_[r].alternatives = std::move(alternatives);
    if (at('\r')) ++pos_;
    if (at('\n')) {
      ++pos_;
    } else if (pos_ < text_.size()) {
      fail_at(pos_, "expected the end of rule '{}'{}", rule_name, unexpected());
    }
    space(true);
  }

  std::string unexpected() const {
    if (pos_ >= text_.size()) return " (found the end of the grammar)";
    const char c = text_[pos_];
    if (c >= 0x21 && c <= 0x7E) return fmt::format(" (found '{}')", c);
    return fmt::format(" (found byte 0x{:02X})", static_cast<uint8_t>(c));
  }

  std::vector<Sequence> parse_alternatives(const std::string& rule, bool nested) {
    std::vector<Sequence> out;
    out.push_back(parse_sequence(rule, nested));
    while (at('|')) {
      ++pos_;
      space(true);
      out.push_back(parse_sequence(rule, nested));
    }
    return out;
  }

  Sequence parse_sequence(const std::string& rule, bool nested) {
    Sequence seq;
    size_t last = std::string::npos;  // where the last item's elements begin in seq
    while (pos_ < text_.size()) {
      const size_t start = pos_;
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        last = seq.size();
        while (pos_ < text_.size() && text_[pos_] != '"') {
          const uint32_t cp = parse_char(start, "string literal");
          if (cp >= 0xD800 && cp <= 0xDFFF) fail_at(start, "U+{:04X} is a surrogate, not a character", cp);
          seq.push_back(chars({{cp, cp}}));
        }
        if (pos_ >= text_.size()) fail_at(start, "unterminated string literal");
        ++pos_;
      } else if (c == '[') {
        ++pos_;
        const bool negated = at('^');
        if (negated) ++pos_;
        std::vector<GbnfRange> ranges;
        while (pos_ < text_.size() && text_[pos_] != ']') {
          const uint32_t lo = parse_char(start, "character class");
          uint32_t hi = lo;
          if (at('-') && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
            ++pos_;
            hi = parse_char(start, "character class");
            if (hi < lo) fail_at(start, "the character range U+{:04X}-U+{:04X} is reversed", lo, hi);
          }
          ranges.push_back({lo, hi});
        }
        if (pos_ >= text_.size()) fail_at(start, "unterminated character class");
        ++pos_;
        auto normal = normalise(std::move(ranges), negated);
        if (normal.empty()) fail_at(start, "the character class matches no character");
        last = seq.size();
        seq.push_back(chars(std::move(normal)));
      } else if (is_word_char(c)) {
        std::string_view n = name();
        last = seq.size();
        seq.push_back({GbnfElement::Kind::Ref, rule_index(n, start), 0});
      } else if (c == '(') {
        ++pos_;
        if (++depth_ > GbnfGrammar::kMaxNesting) {
          fail_at(start, "groups nest more than {} deep", GbnfGrammar::kMaxNesting);
        }
        space(true);
        auto alternatives = parse_alternatives(rule, true);
        if (!at(')')) fail_at(start, "'(' is never closed{}", unexpected());
        ++pos_;
        --depth_;
        const uint32_t g = generated_rule(rule, fmt::format("a group in rule '{}'", rule));
        rules_[g].alternatives = std::move(alternatives);
        last = seq.size();
        seq.push_back({GbnfElement::Kind::Ref, g, 0});
      } else if (c == '.') {
        ++pos_;
        last = seq.size();
        seq.push_back(chars({{0, kMaxCodePoint}}));
      } else if (c == '*' || c == '+' || c == '?') {
        if (last == std::string::npos) fail_at(start, "'{}' must follow an item to repeat", c);
        ++pos_;
        repeat(seq, last, c == '+' ? 1 : 0, c == '?' ? 1 : kUnbounded, rule);
      } else if (c == '{') {
        if (last == std::string::npos) fail_at(start, "'{{' must follow an item to repeat");
        ++pos_;
        space(nested);
        const uint64_t min = count();
        uint64_t max = min;
        space(nested);
        if (at(',')) {
          ++pos_;
          space(nested);
          max = pos_ < text_.size() && is_digit(text_[pos_]) ? count() : kUnbounded;
          space(nested);
        }
        if (!at('}')) fail_at(pos_, "expected '}}' to close the repetition{}", unexpected());
        ++pos_;
        if (max < min) fail_at(start, "the repetition {{{},{}}} has its maximum below its minimum", min, max);
        repeat(seq, last, min, max, rule);
      } else {
        break;
      }
      space(nested);
    }
    return seq;
  }

  uint64_t count() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      v = v * 10 + static_cast<uint64_t>(text_[pos_] - '0');
      if (v > GbnfGrammar::kMaxRepetition) {
        fail_at(start, "repetition counts above {} are not accepted", GbnfGrammar::kMaxRepetition);
      }
      ++pos_;
    }
    if (pos_ == start) fail_at(pos_, "expected a number in the repetition{}", unexpected());
    return v;
  }

  GbnfElement chars(std::vector<GbnfRange> ranges) {
    charge(1);
    const GbnfElement e{GbnfElement::Kind::Chars, static_cast<uint32_t>(ranges_.size()),
                        static_cast<uint32_t>(ranges.size())};
    ranges_.insert(ranges_.end(), ranges.begin(), ranges.end());
    return e;
  }

  // seq[last, end) repeated min to max times (kUnbounded: no maximum), as llama.cpp
  // rewrites it: min copies, then either R ::= item R | ε, or a chain of max - min nested
  // optional copies R_k ::= item R_{k-1} | ε.
  void repeat(Sequence& seq, size_t last, uint64_t min, uint64_t max, const std::string& rule) {
    const Sequence item(seq.begin() + static_cast<ptrdiff_t>(last), seq.end());
    seq.resize(last);
    if (item.empty()) return;  // "" repeated is still ""
    const uint64_t optional = max == kUnbounded ? 1 : max - min;
    // Checked before anything is built: a hostile x{4096} of a large item is refused cheaply.
    charge((min + optional) * (item.size() + 2));
    for (uint64_t i = 0; i < min; ++i) seq.insert(seq.end(), item.begin(), item.end());
    if (max == min) return;
    std::string origin = fmt::format("a repetition in rule '{}'", rule);
    if (max == kUnbounded) {
      const uint32_t r = generated_rule(rule, origin);
      Sequence again = item;
      again.push_back({GbnfElement::Kind::Ref, r, 0});
      rules_[r].alternatives = {std::move(again), {}};
      seq.push_back({GbnfElement::Kind::Ref, r, 0});
      return;
    }
    uint32_t inner = 0;
    for (uint64_t k = 0; k < optional; ++k) {
      const uint32_t r = generated_rule(rule, origin);
      Sequence once = item;
      if (k > 0) once.push_back({GbnfElement::Kind::Ref, inner, 0});
      rules_[r].alternatives = {std::move(once), {}};
      inner = r;
    }
    seq.push_back({GbnfElement::Kind::Ref, inner, 0});
  }

  // One character of a literal or class: an escape or one UTF-8 encoded code point.
  uint32_t parse_char(size_t item_start, const char* where) {
    const auto c = static_cast<uint8_t>(text_[pos_]);
    if (c == '\\') {
      const size_t esc = pos_++;
      if (pos_ >= text_.size()) fail_at(item_start, "unterminated {}", where);
      const char e = text_[pos_++];
      switch (e) {
        case 'x': return hex(esc, 2);
        case 'u': return hex(esc, 4);
        case 'U': return hex(esc, 8);
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '^': return static_cast<uint8_t>(e);
        default: fail_at(esc, "unknown escape '\\{}' in a {}", e, where);
      }
    }
    if (c < 0x80) {
      ++pos_;
      return c;
    }
    const size_t start = pos_;
    const int extra = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
    if (extra < 0 || pos_ + static_cast<size_t>(extra) >= text_.size()) fail_at(start, "invalid UTF-8 in a {}", where);
    uint32_t cp = c & (0x3F >> extra);
    for (int i = 1; i <= extra; ++i) {
      const auto b = static_cast<uint8_t>(text_[pos_ + static_cast<size_t>(i)]);
      if ((b & 0xC0) != 0x80) fail_at(start, "invalid UTF-8 in a {}", where);
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
      fail_at(start, "invalid UTF-8 in a {}", where);
    }
    pos_ += static_cast<size_t>(extra) + 1;
    return cp;
  }

  uint32_t hex(size_t esc, int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      const char h = pos_ < text_.size() ? text_[pos_] : '\0';
      const int d = h >= '0' && h <= '9'   ? h - '0'
                    : h >= 'a' && h <= 'f' ? h - 'a' + 10
                    : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                           : -1;
      if (d < 0) fail_at(esc, "'\\{}' needs {} hex digits", text_[esc + 1], digits);
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (v > kMaxCodePoint) fail_at(esc, "U+{:X} is beyond the last Unicode code point", v);
    return v;
  }

  // A rule that can reach itself before consuming a character would make the
  // recognizer expand it forever: refused, naming the rule.
  void check_left_recursion() {
    const size_t n = rules_.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const Sequence& alt : rules_[r].alternatives) {
          auto empty = [&](const GbnfElement& e) { return e.kind == GbnfElement::Kind::Ref && nullable[e.first]; };
          if (std::ranges::all_of(alt, empty)) {
            nullable[r] = changed = true;
            break;
          }
        }
      }
    }
    // Left edges: r -> s when s can come first in r (after only nullable rules).
    std::vector<std::vector<uint32_t>> left(n);
    for (size_t r = 0; r < n; ++r) {
      for (const Sequence& alt : rules_[r].alternatives) {
        for (const GbnfElement& e : alt) {
          if (e.kind != GbnfElement::Kind::Ref) break;
          left[r].push_back(e.first);
          if (!nullable[e.first]) break;
        }
      }
    }
    // Iterative depth-first search (4096 rules deep would be a deep native stack).
    enum : uint8_t { kNew, kOpen, kDone };
    std::vector<uint8_t> state(n, kNew);
    std::vector<std::pair<uint32_t, size_t>> path;
    for (uint32_t start = 0; start < n; ++start) {
      if (state[start] != kNew) continue;
      path.emplace_back(start, 0);
      state[start] = kOpen;
      while (!path.empty()) {
        auto& [r, next] = path.back();
        if (next == left[r].size()) {
          state[r] = kDone;
          path.pop_back();
          continue;
        }
        const uint32_t s = left[r][next++];
        if (state[s] == kOpen) {
          const Rule& rule = rules_[s];
          if (rule.origin.empty()) {
            fail("rule '{}' is left-recursive: it can reach itself without consuming a character "
                 "(rewrite it with repetition, e.g. expr ::= term (\"+\" term)*)", rule.name);
          }
          fail("rule '{}' ({}) is left-recursive: it repeats an item that can match nothing", rule.name, rule.origin);
        }
        if (state[s] == kNew) {
          state[s] = kOpen;
          path.emplace_back(s, 0);
        }
      }
    }
  }

  std::shared_ptr<const GbnfGrammar> flatten(uint32_t root) {
    auto g = std::make_shared<GbnfGrammar>();
    g->ranges_ = std::move(ranges_);
    g->root_ = root;
    g->rules_.resize(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      g->rules_[r].name = rules_[r].name;
      for (const Sequence& alt : rules_[r].alternatives) {
        g->rules_[r].alternatives.push_back(static_cast<uint32_t>(g->elements_.size()));
        g->elements_.insert(g->elements_.end(), alt.begin(), alt.end());
        g->elements_.push_back({GbnfElement::Kind::End, 0, 0});
      }
    }
    return g;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t depth_ = 0;
  uint64_t elements_ = 0;
  std::vector<Rule> rules_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<GbnfRange> ranges_;
};

std::shared_ptr<const GbnfGrammar> GbnfGrammar::parse(std::string_view text) { return GbnfCompiler(text).run(); }

}  // namespace ragd::engine
