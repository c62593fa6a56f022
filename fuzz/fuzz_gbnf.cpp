// GBNF grammars from untrusted text (llama-server's `grammar` field; engine/gbnf_grammar.h)
// and the recognizer that constrains generation with them (engine/gbnf_recognizer.h).
// Input: grammar text, optionally followed by a NUL byte and a text to feed.
// Properties: parsing either compiles or throws ragd::Error (never hangs: left recursion
// and oversized grammars are refused); feeding never crashes; a refused feed leaves the
// state unchanged; next_bytes() is exactly the set of single bytes can_feed() takes; done()
// means complete() with nothing allowed next.
#include <cstdint>

#include "engine/gbnf_grammar.h"
#include "engine/gbnf_recognizer.h"
#include "fuzz/fuzz_util.h"
#include "util/error.h"

namespace {

void check_next_bytes(ragd::engine::GbnfRecognizer& r) {
  const auto next = r.next_bytes();
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    RAGD_FUZZ_CHECK(next[static_cast<size_t>(b)] == r.can_feed({&c, 1}));
  }
  if (r.done()) RAGD_FUZZ_CHECK(r.complete() && next.none());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = ragd::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  const std::string_view grammar_text = input.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
  std::shared_ptr<const ragd::engine::GbnfGrammar> grammar;
  try {
    grammar = ragd::engine::GbnfGrammar::parse(grammar_text);
  } catch (const ragd::Error&) {
    return 0;
  }
  RAGD_FUZZ_CHECK(grammar->root() < grammar->rule_count());
  ragd::engine::GbnfRecognizer r(*grammar);
  check_next_bytes(r);
  // Fed in pieces of growing size, as tokens arrive; a refused piece is skipped.
  size_t checks = 0;
  for (size_t i = 0, n = 1; i < text.size(); i += n, n = n % 4 + 1) {
    const std::string_view piece = text.substr(i, n);
    const bool complete = r.complete();
    const auto next = r.next_bytes();
    if (!r.feed(piece)) {
      RAGD_FUZZ_CHECK(r.complete() == complete && r.next_bytes() == next);
    } else if (++checks <= 8) {
      check_next_bytes(r);
    }
  }
  return 0;
}
