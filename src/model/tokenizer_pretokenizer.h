// Regex pre-tokenization for byte-level BPE: splits text into the "words" that BPE merges
// within, using the regex list llama.cpp / Hugging Face use for `tokenizer.ggml.pre`.
//
// A list of regexes is applied in order: each regex splits every piece produced so far into
// its matches and the gaps between them (gaps are kept as pieces too), so the pieces always
// cover the input exactly, in order, with no empty piece.
//
// Patterns compile once per process with PCRE2 (UTF + UCP, so \p{L}, \s etc. are Unicode
// classes; JIT when available) and are shared between tokenizers; matching is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::model {

struct CompiledRegex;

class PreTokenizer {
 public:
  // The regex list for a `tokenizer.ggml.pre` value. Unknown or empty names get the
  // "default" list and `*known` (when given) is set to false.
  static std::vector<std::string> patterns_for(std::string_view pre, bool* known = nullptr);

  // Throws ragd::Error when a pattern does not compile.
  explicit PreTokenizer(const std::vector<std::string>& patterns);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Appends the pieces of `text` (which must be valid UTF-8) to `pieces`; they view `text`.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  std::vector<std::shared_ptr<const CompiledRegex>> regexes_;
};

}  // namespace ragd::model
