// Hyper-parameters of a llama-family decoder (Llama 2/3, SmolLM2, Mistral, Qwen2), read
// from GGUF metadata under the architecture's prefix ("llama.", "qwen2.", ...).
#pragma once

#include <cstddef>
#include <string>

#include "model/gguf.h"

namespace ragd::model {

enum class RopeStyle {
  Interleaved,  // rotate pairs (2i, 2i+1): llama.cpp's "norm" mode (llama, mistral)
  Neox,         // rotate pairs (i, i + dim/2): qwen2 and GPT-NeoX-style models
};

struct LlamaConfig {
  std::string arch;
  size_t n_embd = 0;
  size_t n_layer = 0;
  size_t n_head = 0;
  size_t n_head_kv = 0;
  size_t head_dim = 0;  // n_embd / n_head unless the file says otherwise
  size_t n_ff = 0;
  size_t n_vocab = 0;
  size_t n_ctx_train = 0;
  size_t rope_dim = 0;  // leading dims of each head that are rotated
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Interleaved;

  size_t q_dim() const { return n_head * head_dim; }
  size_t kv_dim() const { return n_head_kv * head_dim; }

  // Throws ragd::Error when the architecture is unsupported or a value is inconsistent.
  static LlamaConfig from_gguf(const GgufFile& file);
};

}  // namespace ragd::model
