#include "model/llama_config.h"

#include "util/error.h"

namespace ragd::model {

LlamaConfig LlamaConfig::from_gguf(const GgufFile& f) {
  LlamaConfig c;
  c.arch = std::string(f.architecture());
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "mistral") {
    fail("'{}': architecture '{}' is not supported (supported: llama, mistral, qwen2)", f.path(),
         c.arch);
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
  c.rope_dim = f.get_uint(p + "rope.dimension_count", c.head_dim);
  c.rope_style = c.arch == "qwen2" ? RopeStyle::Neox : RopeStyle::Interleaved;
  if (c.n_head % c.n_head_kv != 0) {
    fail("'{}': head_count {} is not a multiple of head_count_kv {}", f.path(), c.n_head,
         c.n_head_kv);
  }
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    fail("'{}': rope dimension {} does not fit head size {}", f.path(), c.rope_dim, c.head_dim);
  }
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd) {
    fail("'{}': token_embd.weight does not have shape [{} x vocab]", f.path(), c.n_embd);
  }
  c.n_vocab = embd.dims[1];
  return c;
}

}  // namespace ragd::model
