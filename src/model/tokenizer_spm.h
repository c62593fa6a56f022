// SentencePiece BPE (tokenizer.ggml.model = "llama": Llama-1/2, Mistral, Phi-3, Baichuan...).
//
// Spaces become "▁" (U+2581) and, with add_space_prefix, a "▁" is put in front of text that
// starts the input or follows a special token. The text is split into UTF-8 characters, then
// the adjacent pair whose concatenation is the highest-scoring token is merged (ties:
// leftmost first) until no concatenation is a token. Characters left that are not tokens are
// spelled with byte tokens <0xXX> (byte fallback). The whole text is one merge sequence
// (as in llama.cpp), cut at word starts only where the vocabulary makes that exact.
#pragma once

#include <array>

#include "model/tokenizer.h"

namespace ragd::model {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(const GgufFile& file);

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;
  bool strips_leading_space() const override { return add_space_prefix_; }

 private:
  void encode_chunk(std::string_view text, std::vector<int32_t>& out) const;
  void push_bytes(std::string_view bytes, std::vector<int32_t>& out) const;

  std::array<int32_t, 256> byte_token_{};  // <0xXX> token per byte, -1 if missing
  // True when no token holds "▁" after another character: then merges never cross the start
  // of a word, and text can be encoded word by word (much less work for long inputs).
  bool word_chunks_ = false;
};

}  // namespace ragd::model
