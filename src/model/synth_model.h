// synth_model: writes a random-weight GGUF with the exact shape of a real model
// (`ragd synth`), for speed tests at sizes no package ships (speed does not depend on the
// weight values, only on shapes and types) and for checking architectures no registry
// ships a small file of against llama.cpp (tests/engine/synthetic_golden_test.cpp).
//
// Invariants of the written file:
//  - tensor names, shapes and metadata keys are those of llama.cpp's conversion of the real
//    model ({arch}.embedding_length, blk.N.attn_q.weight, ...), so any GGUF reader that
//    loads the real model loads this one;
//  - the tokenizer is a real one: every "tokenizer.*" key is copied from the --vocab file,
//    and {arch}.vocab_size / token_embd follow that vocab's token count;
//  - matrices are random with std 0.02 (approximately normal), biases likewise, norm weights
//    are 1, so a forward pass yields finite, non-degenerate numbers;
//  - the output is a pure function of (arch, layers, type, vocab, seed): each row's numbers
//    come from its own counter-based generator, so thread count and order do not matter;
//  - weights are generated as F32 rows and converted exactly as `ragd quantize` would
//    (same per-tensor type choice, see quant_plan.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/quant_plan.h"
#include "model/tensor_convert.h"

namespace ragd::model {

struct SynthArch {
  std::string_view name;  // e.g. "smollm2-135m"
  std::string_view arch;  // GGUF general.architecture, e.g. "llama"
  uint32_t n_embd = 0;
  uint32_t n_ff = 0;
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool qkv_bias = false;     // attn_q/k/v biases (qwen2)
  bool tied = true;          // no output.weight: token_embd doubles as the output matrix
  bool llama_keys = false;   // llama.cpp's llama converter also writes vocab_size and
                             // rope.dimension_count
  bool head_dim_keys = false;  // attention.key_length / value_length (config has head_dim)
  uint32_t head_dim_override = 0;  // config.json's head_dim when it is not n_embd / n_head
  bool qk_norm = false;            // attn_q_norm / attn_k_norm per-head weights (qwen3)
  // Phi-3: attn_qkv (rows q | k | v) and ffn_up (rows gate | up) instead of separate
  // matrices; the converter also writes rope.dimension_count,
  // rope.scaling.original_context_length and attention.sliding_window.
  bool fused = false;
  uint32_t sliding_window = 0;  // written as attention.sliding_window when > 0
  // Gemma 2: post_attention_norm / post_ffw_norm tensors and the soft-capping keys.
  bool post_norms = false;
  float attn_softcap = 0.0f;
  float final_softcap = 0.0f;
  // Llama 3 RoPE scaling (rope_freqs.weight), active when rope_factor > 0.
  float rope_factor = 0.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  uint32_t rope_original_ctx = 8192;

  uint32_t head_dim() const { return head_dim_override ? head_dim_override : n_embd / n_head; }
};

// The architectures `ragd synth` knows, with their published configurations.
const std::vector<SynthArch>& synth_archs();
const SynthArch* find_synth_arch(std::string_view name);
std::string synth_arch_names();

struct SynthOptions {
  std::string arch;        // a synth_archs() name
  QuantTarget target;      // tensor types, as for `ragd quantize`
  bool pure = false;
  std::string vocab_path;  // GGUF holding tokenizer.* metadata
  uint64_t seed = 0;
  std::optional<uint32_t> layers;  // overrides the block count
  // Override the architecture's soft-caps (attn_logit_softcapping, final_logit_softcapping);
  // refused for an architecture without them. Random weights give attention scores of ~1,
  // where Gemma 2's cap of 50 is linear: a cap near 1 makes the file exercise the tanh
  // (tests/engine/synthetic_golden_test.cpp). Must be finite and > 0.
  std::optional<float> attn_softcap;
  std::optional<float> final_softcap;
  size_t threads = 0;
  ProgressFn progress;
};

struct SynthReport {
  size_t n_tensors = 0;
  uint64_t n_params = 0;
  uint64_t bytes_out = 0;
  uint32_t n_vocab = 0;
  uint32_t n_layer = 0;
  double seconds = 0;
  std::vector<std::string> notes;
};

// Writes the model to `out_path` atomically. Throws ragd::Error on bad options or I/O.
SynthReport synth_model(const std::string& out_path, const SynthOptions& options);

// The approximately normal value generator used for weights, exposed for tests:
// `n` values with mean 0 and standard deviation `std` for row `row` of tensor `tensor`.
void synth_normal_row(uint64_t seed, uint64_t tensor, uint64_t row, float std, float* out,
                      size_t n);

// Llama 3 RoPE frequency factors (llama.cpp's rope_freqs.weight), head_dim / 2 values.
std::vector<float> llama3_rope_factors(const SynthArch& a);

}  // namespace ragd::model
