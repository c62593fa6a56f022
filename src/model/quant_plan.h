// Which tensor type each weight gets when a model is quantized.
//
// The rules are llama.cpp's (llama-quant.cpp, llama_tensor_get_type) for the file types we
// support, so `ragd quantize m.gguf out.gguf q4_k_m` yields the same tensor types as
// `llama-quantize m.gguf out.gguf Q4_K_M` for dense llama-family models:
//  - only matrices are quantized: names ending in "weight" with >= 2 dims, except norms,
//    MoE router (ffn_gate_inp), position/token-type embeddings and a few small
//    architecture-specific tensors; everything else is copied unchanged;
//  - the output matrix (or token_embd when the embeddings are tied, i.e. there is no
//    output.weight) gets Q6_K, or Q8_0 when its rows do not fit Q6_K's 256-blocks;
//  - Q4_K_M / Q5_K_M give Q6_K to attn_v and ffn_down of the layers picked by
//    use_more_bits (the first and last eighth, and every third layer in between);
//    Q4_K_S gives Q5_K to attn_v of layers 0..3 and ffn_down of the first eighth;
//  - a type whose block does not divide the row length falls back (Q4_K→Q5_0, Q5_K→Q5_1,
//    Q6_K→Q8_0, and F16 if that still does not fit), with a note.
// With `pure`, every quantizable matrix gets the base type (only the fallback applies).
// Not modelled: llama.cpp's special cases for MoE (n_expert == 8), 70B models, Falcon and
// the IQ/Q2/Q3 types, none of which `ragd quantize` writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/tensor_type.h"

namespace ragd::model {

// A TYPE argument of `ragd quantize` / `ragd synth`.
struct QuantTarget {
  std::string name;         // canonical lower-case name, e.g. "q4_k_m"
  kernels::TensorType base;  // type of most weight matrices
  uint32_t ftype;            // llama.cpp's LLAMA_FTYPE_*, written to general.file_type
};

// Case-insensitive. "q4_k" means llama.cpp's Q4_K_S and "q5_k" its Q5_K_S (mostly that
// type); nullopt when unknown.
std::optional<QuantTarget> parse_quant_target(std::string_view name);
// The accepted names, comma-separated, for help texts and errors.
std::string quant_target_names();

// True for block-quantized types (block size > 1).
bool is_block_quantized(kernels::TensorType type);

// llama.cpp's rule for which layers get more bits in the *_M mixes.
bool use_more_bits(int64_t i_layer, int64_t n_layers);

struct TensorChoice {
  bool convert = false;  // false: copy the tensor's bytes unchanged
  kernels::TensorType type = kernels::TensorType::F32;  // output type
  std::string note;      // non-empty when a fallback or oddity deserves a message
};

class QuantPlanner {
 public:
  // n_layer: {arch}.block_count; has_output: the model has output.weight (else the token
  // embeddings double as the output matrix); n_attn_v: number of attn_v/attn_qkv tensors.
  QuantPlanner(QuantTarget target, bool pure, int64_t n_layer, bool has_output,
               int64_t n_attn_v);

  // True when llama.cpp would quantize a tensor of this name and rank at all.
  static bool is_quantizable(std::string_view name, size_t n_dims);

  // The type for one tensor currently stored as `current`.
  TensorChoice choose(std::string_view name, const std::vector<uint64_t>& dims,
                      kernels::TensorType current) const;

  const QuantTarget& target() const { return target_; }

 private:
  kernels::TensorType mixed_type(std::string_view name, uint64_t row_len) const;

  QuantTarget target_;
  bool pure_;
  int64_t n_layer_;
  bool has_output_;
  int64_t n_attn_v_;
};

// Layer index N of a "blk.N.*" tensor name; -1 otherwise.
int64_t tensor_layer(std::string_view name);

}  // namespace ragd::model
