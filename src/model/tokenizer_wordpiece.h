// WordPiece (BERT family: tokenizer.ggml.model = "bert").
//
// Normalisation as llama.cpp / BERT's BasicTokenizer: accents are stripped (each character is
// replaced by the first character of its canonical decomposition, combining marks are
// dropped), text is lowercased, control characters are removed, whitespace separates words,
// and every punctuation character, ASCII symbol and CJK ideograph is a word of its own.
// Each word is then cut greedily into the longest vocabulary pieces from the left.
//
// Vocabulary convention: GGUF BERT vocabularies (llama.cpp's converter) mark word-initial
// pieces with "▁" and store "##" continuations without the "##". A vocabulary still in the
// Hugging Face form ("##" continuations, bare word starts) is converted on load.
#pragma once

#include "model/tokenizer.h"

namespace ragd::model {

class WordPieceTokenizer final : public Tokenizer {
 public:
  explicit WordPieceTokenizer(const GgufFile& file);

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
  std::string normal_piece(int32_t id) const override;
  bool strips_leading_space() const override { return true; }

 private:
  int32_t find_piece(std::string_view piece) const;

  size_t max_token_len_ = 0;  // bytes, over all lookup keys
  // Lookup keys in the "▁" convention when the file used "##" (else empty: use index_).
  std::vector<std::string> converted_;
  std::unordered_map<std::string_view, int32_t, StringHash, std::equal_to<>> converted_index_;
};

}  // namespace ragd::model
