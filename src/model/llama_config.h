// Hyper-parameters of a llama-family decoder (Llama 2/3, SmolLM2, Mistral, Qwen2, Qwen3,
// Phi-3, Gemma 2, Gemma 3), read from GGUF metadata under the architecture's prefix ("llama.", "qwen3.", ...).
//
// The llama layer is  x += attn(norm(x));  x += ffn(norm(x))  with a SiLU-gated FFN. Gemma 3
// is that layer with a few switches, all carried here so the forward pass has one shape:
//   - token embeddings scaled by sqrt(n_embd) (embd_scale);
//   - per-head RMSNorm of q and k before RoPE (qk_norm: attn_q_norm / attn_k_norm);
//   - RMSNorm of the attention and FFN outputs before each residual add (post_norms:
//     post_attention_norm / post_ffw_norm);
//   - a GELU(tanh)-gated FFN (ffn_act);
//   - q.k scaled by 1/sqrt(query_pre_attn_scalar) (attn_scale);
//   - sliding-window layers: five of every six layers attend only to the last
//     `sliding_window` positions and use their own RoPE base (rope_base_swa); the rest are
//     global and use rope.freq_base with the linear rope.scaling factor;
//   - optional soft-capping of the final logits (final_logit_softcap).
// Gemma 2 is Gemma 3 without q/k norms, with attention-logit soft-capping
// (attn_logit_softcap) and sliding windows on every other layer. Phi-3's fused matrices
// and Llama 3's rope_freqs are tensor-layout matters of LlamaModel.
// Gemma's norm weights need no "+1": llama.cpp's converter stores HF's (1 + w) in the file.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace ragd::model {

enum class RopeStyle {
  Interleaved,  // rotate pairs (2i, 2i+1): llama.cpp's "norm" mode (llama, mistral)
  Neox,         // rotate pairs (i, i + dim/2): qwen2, qwen3, gemma3 and GPT-NeoX-style models
};

enum class FfnActivation {
  Silu,      // silu(gate) * up (llama, qwen2, mistral)
  GeluTanh,  // gelu_tanh(gate) * up (gemma)
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
  float rope_scale = 1.0f;  // position multiplier of global layers (1 / rope.scaling.factor)
  float rms_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::Interleaved;

  float embd_scale = 1.0f;   // token embedding rows are multiplied by this
  float attn_scale = 0.0f;   // softmax(attn_scale * q.k); 1/sqrt(head_dim) but for gemma3
  bool qk_norm = false;      // attn_q_norm / attn_k_norm over each head before RoPE (gemma3, qwen3)
  bool post_norms = false;   // post_attention_norm / post_ffw_norm before the residual adds
  FfnActivation ffn_act = FfnActivation::Silu;
  float final_logit_softcap = 0.0f;  // 0: none; else logits = cap * tanh(logits / cap)
  float attn_logit_softcap = 0.0f;   // gemma2: softmax over cap * tanh(scaled q.k / cap)

  // Sliding-window attention: layer il with swa_layers[il] sees positions (pos - window, pos]
  // only, and rotates with rope_base_swa (and no position scaling). Empty: every layer global.
  size_t sliding_window = 0;
  std::vector<bool> swa_layers;
  float rope_base_swa = 10000.0f;

  size_t q_dim() const { return n_head * head_dim; }
  size_t kv_dim() const { return n_head_kv * head_dim; }
  bool is_swa(size_t il) const { return il < swa_layers.size() && swa_layers[il]; }
  bool has_swa() const { return sliding_window > 0 && !swa_layers.empty(); }

  // Throws ragd::Error when the architecture is unsupported or a value is inconsistent.
  static LlamaConfig from_gguf(const GgufFile& file);
};

}  // namespace ragd::model
