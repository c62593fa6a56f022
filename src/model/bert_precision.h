// The arithmetic of a BERT encoder's linear layers (the six matrices of every block), chosen
// when the model is loaded.
//
//   f32   the file's weights as stored: an F32 file multiplies in float FMAs, a file already
//         quantized (e.g. `ragd quantize ... q8_0`) keeps its own type.
//   int8  float matrices (F32, F16, BF16) are quantized to Q8_0 at load (a float16 scale per
//         32 weights) and multiplied against activations quantized per 32 to 8 bits, with
//         the integer (AVX-512 VNNI / AVX2) kernels the language models use. Matrices
//         already quantized are kept as they are. Embeddings stay within cosine 0.999 of f32
//         on real text (tests/model/bert_int8_test.cpp) and SciFact nDCG@10 within 0.005
//         (docs/benchmarks.md, "Embedding throughput").
// Embedding tables, norms and biases stay in float either way.
#pragma once

#include <string_view>

namespace ragd::model {

enum class BertPrecision { F32, Int8 };

std::string_view bert_precision_name(BertPrecision p);  // "f32", "int8"
// Parses "f32" / "int8"; throws ragd::Error naming the choices otherwise.
BertPrecision bert_precision_from_name(std::string_view name);

}  // namespace ragd::model
