#include "model/llama_config.h"

#include <cmath>

#include "util/error.h"

namespace ragd::model {

namespace {

// Which layers use the sliding window: {arch}.attention.sliding_window_pattern as one flag
// per layer (true: sliding window), or a period n (default_period when absent): layers il
// with il % n < n - 1 are local, every n-th is global (llama.cpp's set_swa_pattern).
void read_swa_pattern(const GgufFile& f, const std::string& p, uint64_t default_period,
                      LlamaConfig& c) {
  c.swa_layers.assign(c.n_layer, false);
  const std::string pattern_key = p + "attention.sliding_window_pattern";
  const GgufValue* pattern = f.find(pattern_key);
  if (pattern && std::holds_alternative<std::shared_ptr<const GgufArray>>(*pattern)) {
    // One flag per layer (true: sliding window).
    const auto flags = std::get<std::shared_ptr<const GgufArray>>(*pattern)->as<int32_t>();
    if (flags.size() != c.n_layer) {
      fail("'{}': {} has {} entries for {} layers", f.path(), pattern_key, flags.size(), c.n_layer);
    }
    for (size_t il = 0; il < c.n_layer; ++il) c.swa_layers[il] = flags[il] != 0;
    return;
  }
  const uint64_t n = f.get_uint(pattern_key, default_period);
  for (size_t il = 0; il < c.n_layer; ++il) c.swa_layers[il] = n == 0 || il % n < n - 1;
}

// Gemma 3's switches (see llama_config.h). Facts from Google's gemma_pytorch config and
// llama.cpp's gemma3 loader, which is what the GGUF files are written for.
void configure_gemma3(const GgufFile& f, const std::string& p, LlamaConfig& c) {
  c.rope_style = RopeStyle::Neox;
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.qk_norm = true;
  c.post_norms = true;
  c.ffn_act = FfnActivation::GeluTanh;
  // query_pre_attn_scalar is head_dim for every size but 27B (62 layers), where it is
  // n_embd / n_head; the GGUF does not carry it.
  const size_t qpas = c.n_layer == 62 ? c.n_embd / c.n_head : c.head_dim;
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(qpas));
  c.final_logit_softcap = static_cast<float>(f.get_float(p + "final_logit_softcapping", 0.0));
  if (c.final_logit_softcap < 0.0f) {
    fail("'{}': {}final_logit_softcapping {} is negative", f.path(), p, c.final_logit_softcap);
  }

  // Global layers: linear position scaling (Gemma 3 4B and up use factor 8).
  const std::string scaling(f.get_string(p + "rope.scaling.type", "linear"));
  if (scaling != "linear" && scaling != "none") {
    fail("'{}': {}rope.scaling.type '{}' is not supported for gemma3 (only linear)", f.path(), p,
         scaling);
  }
  const double factor = f.get_float(p + "rope.scaling.factor", 0.0);
  if (scaling == "linear" && factor > 0.0) c.rope_scale = static_cast<float>(1.0 / factor);

  c.sliding_window = f.get_uint(p + "attention.sliding_window", 0);
  if (c.sliding_window == 0) return;  // every layer global
  c.rope_base_swa = static_cast<float>(f.get_float(p + "rope.freq_base_swa", 10000.0));
  read_swa_pattern(f, p, 6, c);
}

// Gemma 2: Gemma 3's layer without q/k norms, plus soft-capping of the attention logits
// (softmax over cap * tanh(score / cap)); final-logit soft-capping always (default 30);
// sliding-window layers every other layer (period 2: even layers local, default window
// 4096) with the global layers' RoPE base. Defaults are llama.cpp's gemma2 loader's.
void configure_gemma2(const GgufFile& f, const std::string& p, LlamaConfig& c) {
  c.rope_style = RopeStyle::Neox;
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.post_norms = true;
  c.ffn_act = FfnActivation::GeluTanh;
  // query_pre_attn_scalar: n_embd / n_head for 27B (46 layers), head_dim otherwise.
  const size_t qpas = c.n_layer == 46 ? c.n_embd / c.n_head : c.head_dim;
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(qpas));
  c.attn_logit_softcap = static_cast<float>(f.get_float(p + "attn_logit_softcapping", 50.0));
  c.final_logit_softcap = static_cast<float>(f.get_float(p + "final_logit_softcapping", 30.0));
  if (c.attn_logit_softcap <= 0.0f || c.final_logit_softcap <= 0.0f) {
    fail("'{}': gemma2 soft-capping values must be positive", f.path());
  }
  c.sliding_window = f.get_uint(p + "attention.sliding_window", 4096);
  if (c.sliding_window == 0) return;
  c.rope_base_swa = static_cast<float>(f.get_float(p + "rope.freq_base_swa", c.rope_base));
  read_swa_pattern(f, p, 2, c);
}
}  // namespace

LlamaConfig LlamaConfig::from_gguf(const GgufFile& f) {
  LlamaConfig c;
  c.arch = std::string(f.architecture());
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3" && c.arch != "mistral" &&
      c.arch != "phi3" && c.arch != "gemma2" && c.arch != "gemma3") {
    fail("'{}': architecture '{}' is not supported (supported: gemma2, gemma3, llama, mistral, "
         "phi3, qwen2, qwen3)",
         f.path(), c.arch);
  }
  const std::string p = c.arch + ".";
  c.n_embd = f.get_uint(p + "embedding_length");
  c.n_layer = f.get_uint(p + "block_count");
  c.n_head = f.get_uint(p + "attention.head_count");
  c.n_head_kv = f.get_uint(p + "attention.head_count_kv", c.n_head);
  c.n_ff = f.get_uint(p + "feed_forward_length");
  c.n_ctx_train = f.get_uint(p + "context_length", 2048);
  c.rope_base = static_cast<float>(f.get_float(p + "rope.freq_base", 10000.0));
  c.rms_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon", 1e-5));
  if (c.n_head == 0 || c.n_head_kv == 0 || c.n_embd == 0 || c.n_layer == 0) {
    fail("'{}': zero-sized model dimensions", f.path());
  }
  c.head_dim = f.get_uint(p + "attention.key_length", c.n_embd / c.n_head);
  if (const uint64_t v = f.get_uint(p + "attention.value_length", c.head_dim); v != c.head_dim) {
    fail("'{}': value head size {} differs from key head size {}", f.path(), v, c.head_dim);
  }
  c.rope_dim = f.get_uint(p + "rope.dimension_count", c.head_dim);
  c.rope_style = c.arch == "qwen2" || c.arch == "qwen3" || c.arch == "phi3" ? RopeStyle::Neox
                                                                            : RopeStyle::Interleaved;
  // Qwen3 is Qwen2 without q/k/v biases and with per-head RMSNorm of q and k before RoPE
  // (llama.cpp's qwen3 graph); its head size (128) need not be n_embd / n_head.
  c.qk_norm = c.arch == "qwen3";
  if (c.n_head % c.n_head_kv != 0) {
    fail("'{}': head_count {} is not a multiple of head_count_kv {}", f.path(), c.n_head,
         c.n_head_kv);
  }
  if (c.head_dim == 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    fail("'{}': rope dimension {} does not fit head size {}", f.path(), c.rope_dim, c.head_dim);
  }
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch == "gemma3") configure_gemma3(f, p, c);
  if (c.arch == "gemma2") configure_gemma2(f, p, c);
  if (c.arch == "phi3") {
    // Phi-3's 128k and 3.5 files rotate with LongRoPE (per-frequency factors chosen by
    // context length, and an attention factor); ragd rotates plainly, so they are refused
    // rather than run wrong. Their {arch}.attention.sliding_window is ignored, as llama.cpp
    // does (the converters wrote it inconsistently): every layer is global.
    for (const char* name : {"rope_factors_long.weight", "rope_factors_short.weight"}) {
      if (f.find_tensor(name)) {
        fail("'{}': {} (Phi-3 LongRoPE, 128k-context and Phi-3.5 files) is not supported",
             f.path(), name);
      }
    }
  }
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd) {
    fail("'{}': token_embd.weight does not have shape [{} x vocab]", f.path(), c.n_embd);
  }
  c.n_vocab = embd.dims[1];
  return c;
}

}  // namespace ragd::model
