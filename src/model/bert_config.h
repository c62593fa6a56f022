// Hyper-parameters of a BERT encoder (general.architecture "bert"), read from GGUF metadata
// as llama.cpp's BERT converter writes them (see model/convert_bert.h).
#pragma once

#include <cstddef>
#include <string>

#include "model/gguf.h"

namespace ragd::model {

// GGUF bert.pooling_type values (llama.cpp's enum llama_pooling_type).
enum class BertPooling : uint32_t { Mean = 1, Cls = 2 };
std::string_view bert_pooling_name(BertPooling p);

struct BertConfig {
  std::string name;  // general.name ("" when absent)
  size_t n_vocab = 0;
  size_t n_embd = 0;
  size_t n_layer = 0;
  size_t n_head = 0;
  size_t head_dim = 0;  // n_embd / n_head
  size_t n_ff = 0;
  size_t n_ctx = 0;  // max positions (rows of position_embd)
  size_t n_token_types = 0;
  float eps = 1e-12f;
  BertPooling pooling = BertPooling::Mean;  // mean when the file does not say

  // Throws ragd::Error when the file is not a BERT encoder ragd can run (causal attention,
  // pooling other than mean/CLS, inconsistent sizes).
  static BertConfig from_gguf(const GgufFile& file);
};

}  // namespace ragd::model
