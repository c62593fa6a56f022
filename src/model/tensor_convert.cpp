#include "model/tensor_convert.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "kernels/quants.h"
#include "util/error.h"

namespace ragd::model {
namespace {

using kernels::TensorType;

constexpr uint64_t kChunkFloats = uint64_t{2} << 20;  // 8 MiB of floats per written chunk
constexpr uint64_t kBatchFloats = uint64_t{64} << 10;  // 256 KiB scratch per thread
constexpr size_t kCopyPiece = size_t{8} << 20;

// One thread's share of a chunk: rows [first, first + n) into `out` (row-major).
void convert_range(TensorType type, uint64_t row_len, uint64_t first, uint64_t n,
                   const RowSource& source, uint8_t* out) {
  const size_t out_row = kernels::row_bytes(type, row_len);
  const uint64_t batch = std::max<uint64_t>(1, kBatchFloats / row_len);
  std::vector<float> scratch(std::min(batch, n) * row_len);
  for (uint64_t r = 0; r < n; r += batch) {
    const uint64_t k = std::min(batch, n - r);
    source(first + r, k, scratch.data());
    for (uint64_t j = 0; j < k; ++j) {
      kernels::quantize_row(type, scratch.data() + j * row_len, out + (r + j) * out_row,
                            row_len);
    }
  }
}

// Converts rows [first, first + n) into `out`, split across `threads` threads. Worker
// exceptions are caught on their thread and the first is rethrown here after all joined.
void convert_chunk(TensorType type, uint64_t row_len, uint64_t first, uint64_t n,
                   const RowSource& source, uint8_t* out, size_t threads) {
  const size_t n_workers = static_cast<size_t>(std::min<uint64_t>(threads, n));
  const size_t out_row = kernels::row_bytes(type, row_len);
  const uint64_t per = (n + n_workers - 1) / n_workers;
  std::vector<std::exception_ptr> errors(n_workers);
  auto run = [&](size_t w) {
    try {
      const uint64_t begin = w * per;
      if (begin >= n) return;
      const uint64_t count = std::min(per, n - begin);
      convert_range(type, row_len, first + begin, count, source, out + begin * out_row);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(n_workers - 1);
  for (size_t w = 1; w < n_workers; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace

size_t resolve_threads(size_t threads) {
  if (threads > 0) return threads;
  return std::max<size_t>(1, std::thread::hardware_concurrency());
}

RowSource dequantize_source(const GgufTensor& tensor) {
  if (!kernels::can_dequantize(tensor.type)) {
    fail("tensor '{}': cannot read type {}", tensor.name, kernels::type_name(tensor.type));
  }
  const TensorType type = tensor.type;
  const uint64_t row_len = tensor.dims.at(0);
  const size_t in_row = kernels::row_bytes(type, row_len);
  const uint8_t* data = tensor.data;
  return [=](uint64_t first, uint64_t n, float* dst) {
    for (uint64_t i = 0; i < n; ++i) {
      kernels::dequantize_row(type, data + (first + i) * in_row, dst + i * row_len, row_len);
    }
  };
}

GgufWriter::Producer convert_producer(TensorType type, uint64_t row_len, uint64_t n_rows,
                                      RowSource source, size_t threads) {
  if (row_len == 0 || row_len % kernels::traits(type).block_size != 0) {
    fail("cannot convert rows of {} elements to {}", row_len, kernels::type_name(type));
  }
  threads = resolve_threads(threads);
  return [=](const GgufWriter::ChunkWriter& write) {
    const size_t out_row = kernels::row_bytes(type, row_len);
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkFloats / row_len);
    std::vector<uint8_t> out(std::min(rows_per_chunk, n_rows) * out_row);
    for (uint64_t first = 0; first < n_rows; first += rows_per_chunk) {
      const uint64_t n = std::min(rows_per_chunk, n_rows - first);
      convert_chunk(type, row_len, first, n, source, out.data(), threads);
      write(out.data(), n * out_row);
    }
  };
}

GgufWriter::Producer copy_producer(std::span<const uint8_t> data) {
  return [data](const GgufWriter::ChunkWriter& write) {
    for (size_t off = 0; off < data.size(); off += kCopyPiece) {
      write(data.data() + off, std::min(kCopyPiece, data.size() - off));
    }
  };
}

ProgressTracker::ProgressTracker(ProgressFn fn, size_t n_tensors)
    : fn_(std::move(fn)), n_tensors_(n_tensors), start_(std::chrono::steady_clock::now()) {}

double ProgressTracker::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressTracker::report(size_t index, std::string_view name, bool tensor_done) {
  if (!fn_) return;
  WriteProgress p;
  p.tensor_index = index;
  p.n_tensors = n_tensors_;
  p.tensor_name = name;
  p.bytes_done = done_;
  p.bytes_total = total_;
  p.seconds = seconds();
  p.tensor_done = tensor_done;
  fn_(p);
}

GgufWriter::Producer ProgressTracker::track(size_t index, std::string name,
                                            GgufWriter::Producer inner) {
  return [this, index, name = std::move(name), inner = std::move(inner)](
             const GgufWriter::ChunkWriter& write) {
    report(index, name, false);
    inner([&](const void* data, size_t n) {
      write(data, n);
      done_ += n;
      report(index, name, false);
    });
    report(index, name, true);
  };
}

}  // namespace ragd::model
