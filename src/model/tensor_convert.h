// Streaming, multi-threaded conversion of tensor rows to another type, and progress
// tracking for GGUF writes (shared by `ragd quantize` and `ragd synth`).
//
// A tensor is converted in chunks of whole rows (about 8 MiB of floats each): the rows of
// a chunk are split across threads, each thread fills float rows from a RowSource and
// quantizes them into its slice of the chunk's output buffer, and the chunk is written in
// row order. Memory use is bounded by the chunk size whatever the tensor size, and the
// output does not depend on the thread count.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kernels/tensor_type.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"

namespace ragd::model {

// Fills rows [first_row, first_row + n_rows) as floats into dst (n_rows * row_len values).
// Called concurrently from several threads for disjoint ranges; may throw ragd::Error.
using RowSource = std::function<void(uint64_t first_row, uint64_t n_rows, float* dst)>;

// Rows of an existing tensor of any dequantizable type (reads the mapping in place).
RowSource dequantize_source(const GgufTensor& tensor);

// A producer that writes `n_rows` rows of `row_len` elements converted to `type`.
// threads: 0 means all hardware threads.
GgufWriter::Producer convert_producer(kernels::TensorType type, uint64_t row_len,
                                      uint64_t n_rows, RowSource source, size_t threads);

// A producer that copies `data` in pieces (so progress advances during large copies).
GgufWriter::Producer copy_producer(std::span<const uint8_t> data);

struct WriteProgress {
  size_t tensor_index = 0;  // 0-based
  size_t n_tensors = 0;
  std::string_view tensor_name;
  uint64_t bytes_done = 0;   // tensor data written so far, all tensors
  uint64_t bytes_total = 0;  // tensor data of the whole file
  double seconds = 0;        // since the write started
  bool tensor_done = false;  // this call reports the end of tensor `tensor_index`
};
using ProgressFn = std::function<void(const WriteProgress&)>;

// Counts bytes as producers emit them and reports to a ProgressFn. Not thread-safe:
// producers run on the writing thread, one tensor at a time.
class ProgressTracker {
 public:
  ProgressTracker(ProgressFn fn, size_t n_tensors);
  // Wraps a producer so that its output is counted as tensor `index` called `name`.
  GgufWriter::Producer track(size_t index, std::string name, GgufWriter::Producer inner);
  void set_total(uint64_t bytes_total) { total_ = bytes_total; }
  uint64_t bytes_done() const { return done_; }
  double seconds() const;

 private:
  void report(size_t index, std::string_view name, bool tensor_done);

  ProgressFn fn_;
  size_t n_tensors_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// Resolves a thread-count option: 0 → hardware threads (at least 1).
size_t resolve_threads(size_t threads);

}  // namespace ragd::model
