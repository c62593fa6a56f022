// quantize_model: rewrites a GGUF model with its weight matrices converted to another type
// (`ragd quantize`). Tensor choice follows llama.cpp (see quant_plan.h); every matrix is
// read through kernels::dequantize_row and written through kernels::quantize_row, so any
// readable type (F32, F16, BF16 or a quantized type) can be the input. Metadata is copied,
// with general.file_type set to llama.cpp's LLAMA_FTYPE value for the target and
// general.quantization_version to 2 when block-quantized tensors are written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/quant_plan.h"
#include "model/tensor_convert.h"

namespace ragd::model {

struct QuantizeOptions {
  QuantTarget target;
  bool pure = false;   // every quantizable matrix gets target.base (see quant_plan.h)
  size_t threads = 0;  // 0: all hardware threads
  ProgressFn progress;
};

struct QuantizeReport {
  size_t n_tensors = 0;
  size_t n_converted = 0;
  size_t n_requantized = 0;  // converted from an already block-quantized type
  uint64_t bytes_in = 0;     // tensor data read
  uint64_t bytes_out = 0;    // tensor data written
  double seconds = 0;
  std::map<std::string, size_t> output_types;  // type name → number of tensors
  std::vector<std::string> notes;              // fallbacks and other remarks
};

// Adds `src`'s metadata and tensors, converted as `planner` decides, to `out`. The tensors
// read `src`'s mapping lazily: `src` must outlive out.write(). `tracker` may be null.
QuantizeReport plan_quantized_copy(const GgufFile& src, const QuantPlanner& planner,
                                   size_t threads, GgufWriter& out, ProgressTracker* tracker);

// Builds the planner for `src` (layer count, tied embeddings) from llama.cpp's rules.
QuantPlanner make_planner(const GgufFile& src, const QuantTarget& target, bool pure);

// Reads `in_path`, writes `out_path` atomically. Throws ragd::Error on bad input.
QuantizeReport quantize_model(const std::string& in_path, const std::string& out_path,
                              const QuantizeOptions& options);

// Sets general.file_type and general.quantization_version for `target`.
void set_file_type(GgufWriter& out, const QuantTarget& target);

}  // namespace ragd::model
