#include "model/llama_config.h"

#include <cmath>

#include "util/error.h"

namespace ragd::model {

namespace {

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
  // A period n: layers il with il % n < n - 1 are local, every n-th is global (default 6).
  const uint64_t n = f.get_uint(pattern_key, 6);
  for (size_t il = 0; il < c.n_layer; ++il) c.swa_layers[il] = n == 0 || il % n < n - 1;
}

}  // namespace

LlamaConfig LlamaConfig::from_gguf(const GgufFile& f) {
  LlamaConfig c;
  c.arch = std::string(f.architecture());
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "mistral" && c.arch != "gemma3") {
    fail("'{}': architecture '{}' is not supported (supported: gemma3, llama, mistral, qwen2)",
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
  c.rope_style = c.arch == "qwen2" ? RopeStyle::Neox : RopeStyle::Interleaved;
  if (c.n_head % c.n_head_kv != 0) {
    fail("'{}': head_count {} is not a multiple of head_count_kv {}", f.path(), c.n_head,
         c.n_head_kv);
  }
  if (c.head_dim == 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    fail("'{}': rope dimension {} does not fit head size {}", f.path(), c.rope_dim, c.head_dim);
  }
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch == "gemma3") configure_gemma3(f, p, c);
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd) {
    fail("'{}': token_embd.weight does not have shape [{} x vocab]", f.path(), c.n_embd);
  }
  c.n_vocab = embd.dims[1];
  return c;
}

}  // namespace ragd::model
