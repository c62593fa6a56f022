#include "kernels/interleave.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace ragd::kernels {
namespace {

// Where a block's parts sit in GGUF's block and in an interleaved block of 16 rows.
struct BlockParts {
  size_t block_bytes;  // GGUF block (type_size)
  size_t qs_offset;    // qs inside the GGUF block
  size_t qs_bytes;     // Q
  bool has_min;        // fp16 m at byte 2 of the GGUF block
  size_t qh_offset;    // Q5_x: the 4 fifth-bit bytes inside the GGUF block (0: none)
};

bool block_parts(TensorType type, BlockParts* p) {
  switch (type) {
    case TensorType::Q4_0: *p = {sizeof(BlockQ4_0), offsetof(BlockQ4_0, qs), 16, false, 0}; return true;
    case TensorType::Q4_1: *p = {sizeof(BlockQ4_1), offsetof(BlockQ4_1, qs), 16, true, 0}; return true;
    case TensorType::Q5_0:
      *p = {sizeof(BlockQ5_0), offsetof(BlockQ5_0, qs), 16, false, offsetof(BlockQ5_0, qh)};
      return true;
    case TensorType::Q5_1:
      *p = {sizeof(BlockQ5_1), offsetof(BlockQ5_1, qs), 16, true, offsetof(BlockQ5_1, qh)};
      return true;
    case TensorType::Q8_0: *p = {sizeof(BlockQ8_0), offsetof(BlockQ8_0, qs), 32, false, 0}; return true;
    default: return false;
  }
}

BlockParts parts_of(TensorType type) {
  BlockParts p;
  if (!block_parts(type, &p)) fail("weights of type {} have no interleaved layout", type_name(type));
  return p;
}

// Byte offsets of row r's parts inside an interleaved block of 16 rows.
size_t qs_dword_at(size_t j, size_t r) { return 64 * j + 4 * r; }
size_t qh_at(const BlockParts& p, size_t r) { return kInterleaveRows * p.qs_bytes + 4 * r; }
size_t d_at(const BlockParts& p, size_t r) {
  return kInterleaveRows * (p.qs_bytes + (p.qh_offset ? 4 : 0)) + 2 * r;
}
size_t m_at(const BlockParts& p, size_t r) { return d_at(p, 0) + 2 * kInterleaveRows + 2 * r; }

}  // namespace

bool can_interleave(TensorType type, size_t rows, size_t cols) {
  BlockParts p;
  return block_parts(type, &p) && rows > 0 && rows % kInterleaveRows == 0 && cols % 32 == 0;
}

bool prefers_interleaved(const WeightView& w) {
  return w.layout == WeightLayout::RowMajor && active_isa() >= Isa::Avx2 &&
         can_interleave(w.type, w.rows, w.cols);
}

void interleave_groups(TensorType type, const uint8_t* src, size_t cols, size_t g0, size_t g1,
                       uint8_t* dst) {
  const BlockParts p = parts_of(type);
  const size_t rb = row_bytes(type, cols), nb = cols / 32;
  const size_t group_block = kInterleaveRows * p.block_bytes;
  for (size_t g = g0; g < g1; ++g) {
    const uint8_t* rows = src + g * kInterleaveRows * rb;
    uint8_t* out = dst + g * kInterleaveRows * rb;
    for (size_t b = 0; b < nb; ++b, out += group_block) {
      for (size_t r = 0; r < kInterleaveRows; ++r) {
        const uint8_t* blk = rows + r * rb + b * p.block_bytes;
        for (size_t j = 0; j < p.qs_bytes / 4; ++j) {
          std::memcpy(out + qs_dword_at(j, r), blk + p.qs_offset + 4 * j, 4);
        }
        if (p.qh_offset) std::memcpy(out + qh_at(p, r), blk + p.qh_offset, 4);
        std::memcpy(out + d_at(p, r), blk, 2);
        if (p.has_min) std::memcpy(out + m_at(p, r), blk + 2, 2);
      }
    }
  }
}

void deinterleave_row(TensorType type, const uint8_t* data, size_t cols, size_t r, uint8_t* out) {
  const BlockParts p = parts_of(type);
  const size_t rb = row_bytes(type, cols), nb = cols / 32;
  const size_t group_block = kInterleaveRows * p.block_bytes;
  const uint8_t* group = data + (r / kInterleaveRows) * kInterleaveRows * rb;
  const size_t lane = r % kInterleaveRows;
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* in = group + b * group_block;
    uint8_t* blk = out + b * p.block_bytes;
    for (size_t j = 0; j < p.qs_bytes / 4; ++j) {
      std::memcpy(blk + p.qs_offset + 4 * j, in + qs_dword_at(j, lane), 4);
    }
    if (p.qh_offset) std::memcpy(blk + p.qh_offset, in + qh_at(p, lane), 4);
    std::memcpy(blk, in + d_at(p, lane), 2);
    if (p.has_min) std::memcpy(blk + 2, in + m_at(p, lane), 2);
  }
}

void InterleavedWeight::Free::operator()(uint8_t* p) const { std::free(p); }

InterleavedWeight::InterleavedWeight(const WeightView& row_major, ThreadPool& pool) {
  if (row_major.layout != WeightLayout::RowMajor ||
      !can_interleave(row_major.type, row_major.rows, row_major.cols)) {
    fail("cannot interleave a {} matrix of {} x {}", type_name(row_major.type), row_major.rows,
         row_major.cols);
  }
  bytes_ = row_major.rows * row_bytes(row_major.type, row_major.cols);
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes_ + 63) & ~size_t{63})));
  if (!data_) fail("out of memory interleaving {} bytes of weights", bytes_);
  const size_t groups = row_major.rows / kInterleaveRows;
  const size_t tasks = std::min(groups, 4 * pool.size());
  const auto* src = static_cast<const uint8_t*>(row_major.data);
  pool.parallel_for(tasks, [&](size_t task, size_t) {
    interleave_groups(row_major.type, src, row_major.cols, task * groups / tasks,
                      (task + 1) * groups / tasks, data_.get());
  });
  view_ = row_major;
  view_.data = data_.get();
  view_.layout = WeightLayout::Interleaved16;
}

}  // namespace ragd::kernels
