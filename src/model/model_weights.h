// Looking up a model's weights in a GGUF file with the shape the forward pass expects.
// Shared by every architecture (llama, bert): a missing tensor, a wrong shape or a type
// the kernels cannot compute with is reported as ragd::Error naming file and tensor.
#pragma once

#include <string>

#include "kernels/matmul.h"
#include "model/gguf.h"

namespace ragd::model {

// A [cols x rows] GGUF matrix (dims[0] = cols) as a matmul weight of `rows` outputs.
kernels::WeightView matrix_weight(const GgufFile& file, const std::string& name, size_t rows,
                                  size_t cols);
// An f32 vector of n values (norm weights, biases); nullptr when optional and absent.
const float* vector_weight(const GgufFile& file, const std::string& name, size_t n,
                           bool optional = false);

}  // namespace ragd::model
