// Conversion of a Hugging Face / sentence-transformers BERT checkpoint directory
// (config.json, model.safetensors, tokenizer.json or vocab.txt, optional modules.json +
// pooling config) into a GGUF file that follows llama.cpp's BERT conventions, so llama.cpp
// can load it too:
//   metadata  general.architecture "bert", bert.{context_length, embedding_length,
//             feed_forward_length, block_count, attention.head_count,
//             attention.layer_norm_epsilon, attention.causal=false, pooling_type},
//             tokenizer.ggml.{model "bert", tokens (phantom-space form), token_type,
//             token_type_count, cls/seperator/padding/unknown/mask token ids}
//   tensors   token_embd, token_types, position_embd, token_embd_norm,
//             blk.N.{attn_q, attn_k, attn_v, attn_output, attn_output_norm, ffn_up, ffn_down,
//             layer_output_norm} (.weight and .bias)
// Tensor types follow llama.cpp's converter: 1-D tensors, norms, biases, position_embd and
// token_types stay F32; the other matrices (token_embd and the block matrices) get the
// requested type (F32, F16, BF16 or Q8_0).
//
// The output is a pure function of the inputs and options (fixed tensor and key order, no
// timestamps, thread-count-independent quantization), so re-running gives identical bytes.
#pragma once

#include <string>
#include <vector>

#include "kernels/tensor_type.h"
#include "model/tensor_convert.h"

namespace ragd::model {

struct ConvertBertOptions {
  kernels::TensorType type = kernels::TensorType::F32;
  std::string name;  // general.name; empty: the source directory's name
  size_t threads = 0;
  ProgressFn progress;  // may be empty
};

struct ConvertBertReport {
  std::string name;
  size_t n_layer = 0, n_embd = 0, n_vocab = 0, n_tensors = 0;
  std::string pooling;           // "mean" or "cls"
  uint64_t bytes_out = 0;        // tensor data written
  double seconds = 0;
  std::vector<std::string> notes;  // things the user should know (skipped tensors, ...)
};

// Writes `out_path` atomically. Throws ragd::Error for anything unsupported or malformed.
ConvertBertReport convert_bert(const std::string& src_dir, const std::string& out_path,
                               const ConvertBertOptions& options);

// GGUF general.file_type of a converted file: 0 all F32, 1 mostly F16, 7 mostly Q8_0,
// 32 mostly BF16 (llama.cpp's llama_ftype values).
uint32_t bert_file_type(kernels::TensorType type);

}  // namespace ragd::model
