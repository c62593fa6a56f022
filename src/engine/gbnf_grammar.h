// GbnfGrammar: a grammar in llama.cpp's GBNF notation (llama-server's `grammar` field),
// parsed and compiled into the flat form that GbnfRecognizer (engine/gbnf_recognizer.h)
// walks code point by code point to constrain generation.
//
// Notation (as llama.cpp's grammars/README.md describes it):
//   name ::= alternatives          one rule per line; `root` is the start symbol; names are
//                                  letters, digits and '-'; a rule continues on the next
//                                  line only inside ( ), after `::=` or after `|`
//   "text"                         a literal (escapes \n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH)
//   [a-z0-9_] [^"\\]               a character class, negated with ^ (same escapes)
//   .                              any character
//   ( ... )                        grouping;  a | b  alternatives
//   x*  x+  x?  x{m}  x{m,}  x{m,n}  x{,n}   repetition of the item before
//   # ...                          a comment to the end of the line
// Characters are Unicode code points; the output is UTF-8.
//
// Compilation rewrites groups and repetitions into generated rules (named <rule>_<n>, as
// llama.cpp does), normalises every character class into sorted, disjoint code point
// ranges (negation resolved here), and checks what would otherwise hang or corner the
// recognizer: undefined rules, a missing root, rules defined twice, character classes that
// match nothing, and left recursion (a rule that can reach itself without consuming a
// character, e.g. `expr ::= expr "+" term`, or a repetition of an item that can match
// nothing, e.g. `("a"?)*`). Every error is a ragd::Error naming the line and column, or
// the rule. Limits (below) keep hostile grammars cheap.
//
// A compiled grammar is immutable and shared by every sequence that uses it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::engine {

// One element of a rule's flattened alternatives. An alternative is a run of Chars and
// Ref elements closed by End.
struct GbnfElement {
  enum class Kind : uint8_t { End, Chars, Ref };
  Kind kind = Kind::End;
  // Chars: ranges [first, first + count) of GbnfGrammar::ranges(); Ref: the rule index in
  // `first`.
  uint32_t first = 0;
  uint32_t count = 0;
};

struct GbnfRange {
  uint32_t lo = 0, hi = 0;  // inclusive code points
};

class GbnfGrammar {
 public:
  // Parses and compiles `text`. Throws ragd::Error ("line 3, column 7: ...", or naming the
  // rule) for malformed or hostile grammars.
  static std::shared_ptr<const GbnfGrammar> parse(std::string_view text);

  // Positions (indexes into elements()) where each alternative of rule `r` starts; an
  // empty alternative starts at an End element.
  const std::vector<uint32_t>& alternatives(uint32_t r) const { return rules_[r].alternatives; }
  const std::string& rule_name(uint32_t r) const { return rules_[r].name; }
  size_t rule_count() const { return rules_.size(); }
  uint32_t root() const { return root_; }
  const std::vector<GbnfElement>& elements() const { return elements_; }
  const std::vector<GbnfRange>& ranges() const { return ranges_; }
  // Whether the Chars element at `pos` matches code point cp / some code point in [lo, hi].
  bool matches(uint32_t pos, uint32_t cp) const;
  bool intersects(uint32_t pos, uint32_t lo, uint32_t hi) const;

  // Limits that keep hostile grammars cheap (each is refused with a message).
  static constexpr size_t kMaxTextBytes = 256 * 1024;
  static constexpr size_t kMaxNesting = 64;         // ( ) groups inside each other
  static constexpr size_t kMaxRules = 16384;        // generated rules included
  static constexpr size_t kMaxElements = 65536;     // after repetitions are expanded
  static constexpr uint64_t kMaxRepetition = 4096;  // m and n of x{m,n}

 private:
  friend class GbnfCompiler;
  struct Rule {
    std::string name;
    std::vector<uint32_t> alternatives;
  };
  std::vector<Rule> rules_;
  std::vector<GbnfElement> elements_;
  std::vector<GbnfRange> ranges_;
  uint32_t root_ = 0;
};

}  // namespace ragd::engine
