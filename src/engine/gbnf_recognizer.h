// GbnfRecognizer: decides, byte by byte, whether a text is a prefix of a string that a
// GbnfGrammar (engine/gbnf_grammar.h) accepts. Constrained decoding asks it which tokens
// may come next (GbnfConstraint, engine/gbnf_constraint.h); it has the same interface as
// JsonRecognizer.
//
// The state is a set of parse stacks, as in llama.cpp: each stack holds positions in the
// grammar's elements (the top is the next element to match, the ones below are where the
// enclosing rules continue), and every stack is expanded until its top is a character
// class (or it is empty: the text so far is a whole sentence). A code point advances every
// stack whose top class matches it and drops the others. The grammar compiler refuses left
// recursion, so expansion always ends.
//
// Bytes arrive in UTF-8: a code point split across tokens is held as a prefix, and a byte
// is accepted only when some stack's class still holds a code point with that prefix.
//
// Bounds that keep hostile grammars cheap (dropping a stack is sound: every stack kept is a
// valid interpretation; if none is left the constraint reports that no token can
// continue): at most kMaxStacks stacks (duplicates merged), kMaxDepth positions per stack
// (deeper nesting is dropped) and kMaxPositions positions in all the stacks of a state;
// expanding after one code point costs at most kMaxWork (positions written, plus
// kStackCost per stack created). So a step costs O(kMaxPositions + kMaxWork) whatever the
// grammar: the constraint may try a step for thousands of candidate tokens per generated
// token. can_feed steps from the current state into scratch buffers and never copies the
// whole state.
#pragma once

#include <bitset>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/gbnf_grammar.h"

namespace ragd::engine {

class GbnfRecognizer {
 public:
  // The grammar must outlive the recognizer.
  explicit GbnfRecognizer(const GbnfGrammar& grammar);

  // Consumes `bytes` if the text stays a valid prefix; otherwise returns false and leaves
  // the state as it was.
  bool feed(std::string_view bytes);
  // Whether feed(bytes) would succeed, without changing the state.
  bool can_feed(std::string_view bytes);
  // The bytes so far form one whole sentence of the grammar.
  bool complete() const;
  // complete() and no byte may follow.
  bool done();
  // Bytes that may come next (bit c set: the byte c).
  std::bitset<256> next_bytes();

  // How errors of a constraint built on this recognizer name its output.
  static constexpr const char* kOutputName = "the grammar's output";

  static constexpr size_t kMaxStacks = 1024;
  static constexpr size_t kMaxDepth = 512;
  static constexpr size_t kMaxPositions = 4096;
  static constexpr size_t kMaxWork = 8192;
  static constexpr size_t kStackCost = 16;  // what a new stack counts against kMaxWork beside its positions

  // Positions in all the stacks of the current state (at most kMaxPositions).
  size_t positions() const;

 private:
  using Stack = std::vector<uint32_t>;
  struct State {
    std::vector<Stack> stacks;  // sorted, no duplicates
    uint32_t prefix = 0;        // bits of a code point whose continuation bytes are due
    uint8_t pending = 0;        // continuation bytes still due
    uint8_t lo = 0x80, hi = 0xBF;  // the range the next continuation byte must be in
    uint32_t min_cp = 0;        // smallest code point of the sequence's length
  };

  // Each step reads `in` and writes `out` (distinct objects); false: the byte is refused
  // and `out` is unspecified.
  bool step_byte(const State& in, State& out, uint8_t b);
  bool step_code_point(const std::vector<Stack>& in, std::vector<Stack>& out, uint32_t cp);
  // Keeps the stacks some completion of out's pending prefix fits.
  bool keep_prefix_matches(const std::vector<Stack>& in, State& out);
  void expand(Stack s, std::vector<Stack>& out);
  void settle(std::vector<Stack>& stacks);  // sort, merge duplicates, cap stacks and positions

  const GbnfGrammar& grammar_;
  State state_;
  State scratch_[2];  // can_feed's steps alternate between them; the result is in scratch_[0]
  std::vector<Stack> work_;
  size_t work_done_ = 0;  // expand's work since the last code point, counted against kMaxWork
};

}  // namespace ragd::engine
