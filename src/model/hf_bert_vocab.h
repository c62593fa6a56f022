// The WordPiece vocabulary of a Hugging Face BERT checkpoint directory, read for conversion
// to GGUF: from tokenizer.json (the `tokenizers` library's file: model.vocab, normalizer,
// added_tokens) or, when that is absent, from vocab.txt + tokenizer_config.json.
//
// Invariants of a returned HfBertVocab:
//  - tokens[id] is the Hugging Face token text of id ("##" marks continuations); every id
//    in [0, size) has exactly one token (gaps get "[PAD<id>]" of type Unused, as llama.cpp's
//    converter does);
//  - token_types[id] is a GGUF TokenType value: Control for special added tokens, Normal
//    otherwise;
//  - the normaliser is the uncased BERT one (lowercase + strip accents) that ragd's and
//    llama.cpp's WordPiece tokenizers implement; anything else is refused with an error,
//    because the converted model would then silently tokenize differently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ragd::model {

struct HfBertVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;
  // Special ids, -1 when the vocabulary lacks them.
  int32_t cls_id = -1, sep_id = -1, pad_id = -1, unk_id = -1, mask_id = -1;
};

// Reads the vocabulary of checkpoint directory `dir`. `min_size` pads the vocabulary to
// the embedding matrix's row count (0: no padding). Throws ragd::Error on missing files,
// malformed JSON or an unsupported tokenizer.
HfBertVocab read_hf_bert_vocab(const std::string& dir, size_t min_size = 0);

// The GGUF spelling of a BERT vocabulary (llama.cpp's "phantom space" convention): word
// starts get a leading U+2581, "##" continuations lose their prefix, and bracketed tokens
// such as "[CLS]" stay as they are.
std::string gguf_wordpiece_token(const std::string& hf_token);

}  // namespace ragd::model
