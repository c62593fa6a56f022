#include "kernels/interleave.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/kquant_scales.h"
#include "kernels/quants.h"
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

// Q4_K (interleave.h): where the 6-bit value of sub-block s of row r (one of the 16 of a
// group) sits among its half's 64 scales or 64 mins: vector s / 4, byte 16 * (r' / 4) +
// 4 * (s % 4) + r' % 4 with r' = r % 8.
size_t k4_half(size_t r) { return r / 8; }
size_t k4_vector(size_t s) { return s / 4; }
size_t k4_byte(size_t s, size_t r) { return 16 * ((r % 8) / 4) + 4 * (s % 4) + r % 4; }

// Row r's 8 scales and 8 mins into (and back out of) a group block's scale area.
void put_k4_scales(const uint8_t* sc, const uint8_t* m, size_t r, uint8_t* area) {
  uint8_t* half = area + kK4HalfScaleBytes * k4_half(r);
  uint8_t* low_sc = half;
  uint8_t* low_m = half + 32;
  uint8_t* high = half + 64;
  for (size_t s = 0; s < 8; ++s) {
    const size_t i = k4_byte(s, r), v = k4_vector(s);
    low_sc[i] = static_cast<uint8_t>((low_sc[i] & (v ? 0x0F : 0xF0)) | (sc[s] & 15) << (4 * v));
    low_m[i] = static_cast<uint8_t>((low_m[i] & (v ? 0x0F : 0xF0)) | (m[s] & 15) << (4 * v));
    const int sc_shift = static_cast<int>(2 * v), m_shift = static_cast<int>(4 + 2 * v);
    high[i] = static_cast<uint8_t>((high[i] & ~(3 << sc_shift) & ~(3 << m_shift)) | (sc[s] >> 4) << sc_shift |
                                   (m[s] >> 4) << m_shift);
  }
}

void get_k4_scales(const uint8_t* area, size_t r, uint8_t* sc, uint8_t* m) {
  const uint8_t* half = area + kK4HalfScaleBytes * k4_half(r);
  for (size_t s = 0; s < 8; ++s) {
    const size_t i = k4_byte(s, r), v = k4_vector(s);
    const uint8_t hi = half[64 + i];
    sc[s] = static_cast<uint8_t>(((half[i] >> (4 * v)) & 15) | ((hi >> (2 * v)) & 3) << 4);
    m[s] = static_cast<uint8_t>(((half[32 + i] >> (4 * v)) & 15) | ((hi >> (4 + 2 * v)) & 3) << 4);
  }
}

void interleave_k4_groups(const uint8_t* src, size_t cols, size_t g0, size_t g1, uint8_t* dst) {
  const size_t rb = row_bytes(TensorType::Q4_K, cols), nb = cols / QK_K;
  for (size_t g = g0; g < g1; ++g) {
    const uint8_t* rows = src + g * kInterleaveRows * rb;
    uint8_t* out = dst + g * kInterleaveRows * rb;
    for (size_t b = 0; b < nb; ++b, out += kInterleaveRows * sizeof(BlockQ4_K)) {
      // put_k4_scales sets bit fields of bytes that several rows share.
      std::memset(out + kK4ScalesOffset, 0, 2 * kK4HalfScaleBytes);
      for (size_t r = 0; r < kInterleaveRows; ++r) {
        BlockQ4_K blk;
        std::memcpy(&blk, rows + r * rb + b * sizeof(BlockQ4_K), sizeof blk);
        for (size_t j = 0; j < QK_K / 8; ++j) std::memcpy(out + qs_dword_at(j, r), blk.qs + 4 * j, 4);
        uint8_t sc[8], m[8];
        detail::unpack_k4_scales(blk.scales, sc, m);
        put_k4_scales(sc, m, r, out + kK4ScalesOffset);
        std::memcpy(out + kK4DOffset + 2 * r, &blk.d, 2);
        std::memcpy(out + kK4DminOffset + 2 * r, &blk.dmin, 2);
      }
    }
  }
}

void deinterleave_k4_row(const uint8_t* data, size_t cols, size_t r, uint8_t* out) {
  const size_t rb = row_bytes(TensorType::Q4_K, cols), nb = cols / QK_K;
  const uint8_t* group = data + (r / kInterleaveRows) * kInterleaveRows * rb;
  const size_t lane = r % kInterleaveRows;
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* in = group + b * kInterleaveRows * sizeof(BlockQ4_K);
    BlockQ4_K blk;
    for (size_t j = 0; j < QK_K / 8; ++j) std::memcpy(blk.qs + 4 * j, in + qs_dword_at(j, lane), 4);
    uint8_t sc[8], m[8];
    get_k4_scales(in + kK4ScalesOffset, lane, sc, m);
    detail::pack_k4_scales(sc, m, blk.scales);
    std::memcpy(&blk.d, in + kK4DOffset + 2 * lane, 2);
    std::memcpy(&blk.dmin, in + kK4DminOffset + 2 * lane, 2);
    std::memcpy(out + b * sizeof(BlockQ4_K), &blk, sizeof blk);
  }
}

}  // namespace

bool can_interleave(TensorType type, size_t rows, size_t cols) {
  if (rows == 0 || rows % kInterleaveRows != 0) return false;
  if (type == TensorType::Q4_K) return cols % QK_K == 0;
  BlockParts p;
  return block_parts(type, &p) && cols % 32 == 0;
}

bool prefers_interleaved(const WeightView& w) {
  if (w.layout != WeightLayout::RowMajor || !can_interleave(w.type, w.rows, w.cols)) return false;
  // Q4_K's layout has an AVX2 kernel only: AVX-512 and AMX run it faster row-major.
  if (w.type == TensorType::Q4_K) return active_isa() == Isa::Avx2;
  return active_isa() >= Isa::Avx2;
}

void interleave_groups(TensorType type, const uint8_t* src, size_t cols, size_t g0, size_t g1,
                       uint8_t* dst) {
  if (type == TensorType::Q4_K) return interleave_k4_groups(src, cols, g0, g1, dst);
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
  if (type == TensorType::Q4_K) return deinterleave_k4_row(data, cols, r, out);
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
