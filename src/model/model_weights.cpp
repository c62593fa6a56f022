#include "model/model_weights.h"

#include "kernels/quants.h"
#include "util/error.h"

namespace ragd::model {

kernels::WeightView matrix_weight(const GgufFile& file, const std::string& name, size_t rows,
                                  size_t cols) {
  const GgufTensor& t = file.tensor(name);
  if (t.dims.size() != 2 || t.dims[0] != cols || t.dims[1] != rows) {
    fail("'{}': tensor '{}' should have shape [{} x {}]", file.path(), name, cols, rows);
  }
  if (!kernels::can_dequantize(t.type)) {
    fail("'{}': tensor '{}' has type {}, which ragd cannot compute with yet", file.path(), name,
         kernels::type_name(t.type));
  }
  return kernels::WeightView{t.type, t.data, rows, cols};
}

const float* vector_weight(const GgufFile& file, const std::string& name, size_t n,
                           bool optional) {
  const GgufTensor* t = file.find_tensor(name);
  if (!t) {
    if (optional) return nullptr;
    fail("'{}': model has no tensor '{}'", file.path(), name);
  }
  if (t->type != kernels::TensorType::F32 || t->n_elements != n) {
    fail("'{}': tensor '{}' should be {} f32 values", file.path(), name, n);
  }
  // GGUF tensor data is aligned to >= 32 bytes, so the float pointer is aligned.
  return reinterpret_cast<const float*>(t->data);
}

}  // namespace ragd::model
