// Scalar packing of float activation rows into the formats of gemm.h.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/quants_internal.h"

namespace ragd::kernels::detail {
namespace {

size_t round_up64(size_t n) { return (n + 63) & ~size_t{63}; }

void pack_q8x32(AuxKind aux, const float* x, size_t cols, uint8_t* dst) {
  auto* qs = reinterpret_cast<int8_t*>(dst);
  auto* dl = reinterpret_cast<float*>(dst + cols);
  uint8_t* aux_bytes = dst + 2 * cols;
  auto* dc = reinterpret_cast<float*>(dst + 3 * cols);
  auto* ds = dc + cols / 32;
  const int32_t c = corr_factor(aux);
  for (size_t b = 0; b < cols / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (size_t j = 0; j < 32; ++j) {
      qs[32 * b + j] = static_cast<int8_t>(nearest_int(xb[j] * id));
      sum += qs[32 * b + j];
    }
    dc[b] = d;
    ds[2 * b] = d;
    ds[2 * b + 1] = d * static_cast<float>(sum);
    for (size_t g = 0; g < 8; ++g) {
      dl[8 * b + g] = d;
      const int8_t* q4 = qs + 32 * b + 4 * g;
      const int32_t sum4 = q4[0] + q4[1] + q4[2] + q4[3];
      uint8_t* lane = aux_bytes + 4 * (8 * b + g);
      if (aux == AuxKind::MinSum) {
        const float v = d * static_cast<float>(sum4);
        std::memcpy(lane, &v, 4);
      } else {
        // Corr8Nib: lanes 4..7 hold high nibbles that the kernel keeps scaled by 16.
        const int32_t lane_c = (aux == AuxKind::Corr8Nib && g >= 4) ? 16 * c : c;
        const int32_t v = -lane_c * sum4;
        std::memcpy(lane, &v, 4);
      }
    }
  }
}

void pack_q8x32_any(Isa isa, AuxKind aux, const float* x, size_t cols, uint8_t* dst) {
  if (isa >= Isa::Avx512) {
    pack_q8x32_avx512(aux, x, cols, dst);
  } else {
    pack_q8x32(aux, x, cols, dst);
  }
}

// One Q8x32R16 panel of up to 16 rows (rows >= n_rows are zero): each row is quantized
// like a Q8x32 row into `tmp`, with the same aux kind, then copied block by block. A
// Corr(c) row's aux lanes hold -c * sum(group of 4); their 8 per block add up to the
// block's -c * sum(q).
void pack_q8x32_rows_panel(Isa isa, AuxKind aux, const float* x, size_t cols, size_t n_rows,
                           uint8_t* dst, uint8_t* tmp) {
  const size_t nb = cols / 32;
  std::memset(dst, 0, nb * kPanelBlockBytes);
  if (isa >= Isa::Avx2 && aux != AuxKind::Corr8Nib) {
    for (size_t t = 0; t < n_rows; ++t) pack_q8x32_panel_row_avx2(aux, x + t * cols, cols, t, dst);
    return;
  }
  for (size_t t = 0; t < n_rows; ++t) {
    pack_q8x32_any(isa, aux, x + t * cols, cols, tmp);
    const int8_t* qs = q8x32_qs(tmp);
    const float* d = q8x32_d(tmp, cols);
    const float* ds = q8x32_ds(tmp, cols);
    const auto* lanes = static_cast<const uint8_t*>(q8x32_aux(tmp, cols));
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* blk = dst + b * kPanelBlockBytes;
      std::memcpy(blk + 32 * t, qs + 32 * b, 32);
      std::memcpy(blk + kPanelScaleOffset + 4 * t, &d[b], 4);
      if (aux == AuxKind::MinSum) {
        std::memcpy(blk + kPanelAuxOffset + 4 * t, &ds[2 * b + 1], 4);
      } else {
        int32_t corr = 0;
        for (size_t g = 0; g < 8; ++g) {
          int32_t v;
          std::memcpy(&v, lanes + 4 * (8 * b + g), 4);
          corr += v;
        }
        std::memcpy(blk + kPanelAuxOffset + 4 * t, &corr, 4);
      }
    }
  }
}

void quantize_q8_k_any(Isa isa, const float* x, BlockQ8_K* y, size_t cols) {
  if (isa >= Isa::Avx512) {
    quantize_q8_k_avx512(x, y, cols);
  } else {
    quantize_q8_k(x, y, cols);
  }
}

// One Q8KP16 panel of up to 16 rows (rows >= n_rows are zero).
void pack_q8k_panel(Isa isa, const float* x, size_t cols, size_t n_rows, uint8_t* dst,
                    std::vector<BlockQ8_K>& tmp) {
  const size_t nb = cols / QK_K;
  std::memset(dst, 0, nb * kPanelSuperBytes);
  tmp.resize(nb);
  for (size_t t = 0; t < n_rows; ++t) {
    quantize_q8_k_any(isa, x + t * cols, tmp.data(), cols);
    for (size_t b = 0; b < nb; ++b) {
      uint8_t* sb = dst + b * kPanelSuperBytes;
      for (size_t g = 0; g < 64; ++g) {
        uint32_t v;
        std::memcpy(&v, tmp[b].qs + 4 * g, 4);
        v ^= 0x80808080u;  // q + 128 in every byte
        std::memcpy(sb + 64 * g + 4 * t, &v, 4);
      }
      std::memcpy(sb + 4096 + 4 * t, &tmp[b].d, 4);
      for (size_t p = 0; p < 4; ++p) {
        const auto lo = static_cast<int16_t>(tmp[b].bsums[4 * p] + tmp[b].bsums[4 * p + 1]);
        const auto hi = static_cast<int16_t>(tmp[b].bsums[4 * p + 2] + tmp[b].bsums[4 * p + 3]);
        const uint32_t v = static_cast<uint16_t>(lo) | (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
        std::memcpy(sb + 4160 + 64 * p + 4 * t, &v, 4);
      }
    }
  }
}

// One BF16P16 panel of up to 16 rows (rows >= n_rows are zero).
void pack_bf16_panel(const float* x, size_t cols, size_t n_rows, uint8_t* dst) {
  auto* out = reinterpret_cast<uint16_t*>(dst);
  std::fill(out, out + cols * kPanelRows, uint16_t{0});
  for (size_t t = 0; t < n_rows; ++t) {
    const float* xt = x + t * cols;
    for (size_t k = 0; k < cols; ++k) {
      out[(k / 2) * 2 * kPanelRows + 2 * t + k % 2] = bf16_from_float(xt[k]);
    }
  }
}

}  // namespace

size_t pack_unit_rows(ActFormat fmt) {
  return fmt == ActFormat::Q8x32R16 || fmt == ActFormat::F32P16 || fmt == ActFormat::Q8KP16 ||
                 fmt == ActFormat::BF16P16
             ? kPanelRows
             : 1;
}

size_t packed_stride(ActFormat fmt, size_t cols) {
  switch (fmt) {
    case ActFormat::F32: return round_up64(cols * sizeof(float));
    case ActFormat::Q8x32: return round_up64(3 * cols + 3 * (cols / 32) * sizeof(float));
    case ActFormat::Q8K: return round_up64(cols / QK_K * sizeof(BlockQ8_K));
    case ActFormat::Q8x32R16: return cols / 32 * kPanelBlockBytes;
    case ActFormat::F32P16: return round_up64(cols * kPanelRows * sizeof(float));
    case ActFormat::Q8KP16: return cols / QK_K * kPanelSuperBytes;
    case ActFormat::BF16P16: return cols * kPanelRows * sizeof(uint16_t);
  }
  return 0;
}

void pack_units(Isa isa, ActFormat fmt, AuxKind aux, const float* x, size_t cols, size_t n,
                size_t u0, size_t u1, uint8_t* dst) {
  const size_t stride = packed_stride(fmt, cols);
  if (fmt == ActFormat::F32P16) {
    for (size_t u = u0; u < u1; ++u) {
      auto* out = reinterpret_cast<float*>(dst + u * stride);
      const size_t i0 = u * kPanelRows, rows = std::min(kPanelRows, n - i0);
      std::fill(out, out + cols * kPanelRows, 0.0f);
      for (size_t t = 0; t < rows; ++t) {
        const float* xi = x + (i0 + t) * cols;
        for (size_t k = 0; k < cols; ++k) out[k * kPanelRows + t] = xi[k];
      }
    }
    return;
  }
  if (fmt == ActFormat::BF16P16) {
    for (size_t u = u0; u < u1; ++u) {
      const size_t i0 = u * kPanelRows, rows = std::min(kPanelRows, n - i0);
      if (isa >= Isa::Amx) {
        pack_bf16_panel_avx512(x + i0 * cols, cols, rows, dst + u * stride);
      } else {
        pack_bf16_panel(x + i0 * cols, cols, rows, dst + u * stride);
      }
    }
    return;
  }
  if (fmt == ActFormat::Q8KP16) {
    std::vector<BlockQ8_K> tmp;
    for (size_t u = u0; u < u1; ++u) {
      const size_t i0 = u * kPanelRows;
      pack_q8k_panel(isa, x + i0 * cols, cols, std::min(kPanelRows, n - i0), dst + u * stride, tmp);
    }
    return;
  }
  if (fmt == ActFormat::Q8x32R16) {
    std::vector<uint8_t> tmp(packed_stride(ActFormat::Q8x32, cols));
    for (size_t u = u0; u < u1; ++u) {
      const size_t i0 = u * kPanelRows;
      pack_q8x32_rows_panel(isa, aux, x + i0 * cols, cols, std::min(kPanelRows, n - i0),
                            dst + u * stride, tmp.data());
    }
    return;
  }
  for (size_t i = u0; i < u1; ++i) {
    uint8_t* out = dst + i * stride;
    const float* xi = x + i * cols;
    switch (fmt) {
      case ActFormat::F32: std::memcpy(out, xi, cols * sizeof(float)); break;
      case ActFormat::Q8x32: pack_q8x32_any(isa, aux, xi, cols, out); break;
      case ActFormat::Q8K: quantize_q8_k_any(isa, xi, reinterpret_cast<BlockQ8_K*>(out), cols); break;
      case ActFormat::Q8x32R16: case ActFormat::F32P16: case ActFormat::Q8KP16:
      case ActFormat::BF16P16: break;
    }
  }
}

}  // namespace ragd::kernels::detail
