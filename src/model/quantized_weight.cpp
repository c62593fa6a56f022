#include "model/quantized_weight.h"

#include "kernels/quants.h"
#include "util/error.h"

namespace ragd::model {

using kernels::TensorType;

bool is_float_type(TensorType type) {
  return type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
}

QuantizedWeight::QuantizedWeight(const kernels::WeightView& src, TensorType type,
                                 kernels::ThreadPool& pool) {
  if (!is_float_type(src.type)) {
    fail("quantize at load: the source matrix is {}, not a float type", kernels::type_name(src.type));
  }
  if (!kernels::can_quantize(type) || is_float_type(type)) {
    fail("quantize at load: {} is not a quantized type ragd can write", kernels::type_name(type));
  }
  const size_t block = kernels::traits(type).block_size;
  if (src.cols % block != 0) {
    fail("quantize at load: {} columns are not a multiple of {}'s block of {}", src.cols,
         kernels::type_name(type), block);
  }
  const size_t stride = kernels::row_bytes(type, src.cols);
  row_major_.resize(stride * src.rows);
  // One row of floats per thread at a time: get_row dequantizes F16/BF16 sources too.
  std::vector<std::vector<float>> rows(pool.size(), std::vector<float>(src.cols));
  pool.parallel_for(src.rows, [&](size_t r, size_t thread) {
    float* row = rows[thread].data();
    kernels::get_row(src, r, row);
    kernels::quantize_row(type, row, row_major_.data() + r * stride, src.cols);
  });
  view_ = {type, row_major_.data(), src.rows, src.cols};
  if (kernels::prefers_interleaved(view_)) {
    interleaved_ = std::make_unique<kernels::InterleavedWeight>(view_, pool);
    view_ = interleaved_->view();
    row_major_ = {};
  }
}

}  // namespace ragd::model
