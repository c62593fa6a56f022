// A float weight matrix (F32, F16 or BF16 in the file) quantized at load into memory of its
// own, for models whose files keep float weights but whose matmuls should run on the
// integer kernels (the BERT encoder's int8 precision, model/bert_precision.h).
//
// The rows are quantized with the reference kernels::quantize_row, so the result is
// byte-identical to the same matrix written by `ragd quantize`; when the batched kernels
// in use prefer the 16-row interleaved layout (kernels/interleave.h), the matrix is stored
// in that layout instead, exactly as LlamaModel re-lays out quantized file weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"

namespace ragd::model {

class QuantizedWeight {
 public:
  // `src` must be a float type and `cols` a multiple of `type`'s block size (throws
  // ragd::Error naming both otherwise); `type` one kernels::quantize_row can write. The
  // source is only read during construction.
  QuantizedWeight(const kernels::WeightView& src, kernels::TensorType type,
                  kernels::ThreadPool& pool);
  const kernels::WeightView& view() const { return view_; }
  size_t bytes() const { return kernels::row_bytes(view_.type, view_.cols) * view_.rows; }

 private:
  std::vector<uint8_t> row_major_;  // empty once interleaved_ holds the matrix
  std::unique_ptr<kernels::InterleavedWeight> interleaved_;
  kernels::WeightView view_{};
};

// True for the element types QuantizedWeight accepts as a source.
bool is_float_type(kernels::TensorType type);

}  // namespace ragd::model
